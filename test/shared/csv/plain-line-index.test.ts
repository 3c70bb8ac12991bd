import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { moduleText, wasmOf } from "../../../scripts/build-wasm.mjs";
import type { CsvRecord } from "../../../shared/csv/csv-record-reader";
import {
  DEFAULT_LINE_INDEX_SIZE,
  EMPTY,
  type LineIndexSize,
  OTHER,
  PLAIN,
  PlainLineIndex,
} from "../../../shared/csv/plain-line-index";
import { SnapshotScanner } from "../../../shared/csv/snapshot-scanner";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

afterEach(() => {
  vi.restoreAllMocks();
});

/** Everything a scanner hands on, in order: plain lines as their fields' text, other records as the reader's. */
function visits(bytes: Uint8Array, chunkSize: number, size: LineIndexSize | false) {
  const seen: Array<[string, number, string[]] | ["record", CsvRecord]> = [];
  let width = 0;
  const scanner = new SnapshotScanner(
    {
      header: (record) => {
        seen.push(["record", record]);
        width = record.fields.length;
        return width;
      },
      plain: (line, cuts, at) => {
        const fields: string[] = [];
        for (let k = 0; k < width; k++) fields.push(decode(line.subarray((cuts[k] as number) + 1, cuts[k + 1])));
        seen.push(["plain", at, fields]);
      },
      record: (record) => seen.push(["record", record]),
    },
    undefined,
    size,
  );
  for (let at = 0; at < bytes.length; at += chunkSize) scanner.push(bytes.slice(at, at + chunkSize));
  scanner.end();
  return seen;
}

/** CSV-ish lines: mostly plain, with the bytes that make a line not plain, records over several lines, CR LFs. */
const textArb = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("a,b,c", "1,22,333", "x,,", ",,", "abc,def,ghi") },
      {
        weight: 3,
        arbitrary: fc.string({
          unit: fc.constantFrom("a", "1", ",", ",", '"', "\r", "é", "\\", "\t", "\u007f", " "),
          maxLength: 12,
        }),
      },
    ),
    { maxLength: 40 },
  )
  .chain((lines) =>
    fc
      .array(fc.constantFrom("\n", "\n", "\r\n", "\n\n"), { minLength: lines.length, maxLength: lines.length })
      .map((ends) => encode(`h1,h2,h3\n${lines.map((l, i) => l + ends[i]).join("")}`)),
  );

const sizeArb = fc.record({ window: fc.integer({ min: 1, max: 96 }), records: fc.integer({ min: 1, max: 6 }) });

describe("PlainLineIndex", () => {
  it("is built from plain-line-index.wat: the committed bytes are what the source builds to", async () => {
    const built = await wasmOf("shared/csv/plain-line-index.wat");
    expect(readFileSync("shared/csv/plain-line-index.wasm.ts", "utf8")).toBe(moduleText(built));
  });

  it("records each line's kind, line feed and cuts, and where to go on", () => {
    const bytes = encode('x\na,b,c\r\nd,,f\n\n\r\na,"q",c\na,b\na,b,c,d\nab\rc,d,e\nlast,no,end');
    const index = PlainLineIndex.acquire(3, DEFAULT_LINE_INDEX_SIZE) as PlainLineIndex;
    try {
      index.load(bytes, 2, bytes.length); // from the second line on
      const count = index.scan(2, 100);
      const lines = Array.from({ length: count }, (_, r) => {
        const kind = index.kind(r);
        const line = decode(bytes.subarray(index.start(r), index.lineFeed(r) + 1));
        if (kind !== PLAIN) return [kind, line];
        const cuts = new Int32Array(4);
        index.cutsInto(r, cuts);
        const window = index.window;
        return [kind, line, [0, 1, 2].map((k) => decode(window.subarray((cuts[k] as number) + 1, cuts[k + 1])))];
      });
      expect(lines).toEqual([
        [PLAIN, "a,b,c\r\n", ["a", "b", "c"]], // the CR of a CR LF is the line's end, not a field's byte
        [PLAIN, "d,,f\n", ["d", "", "f"]],
        [EMPTY, "\n"],
        [EMPTY, "\r\n"],
        [OTHER, 'a,"q",c\n'], // a quote
        [OTHER, "a,b\n"], // too few fields
        [OTHER, "a,b,c,d\n"], // too many
        [OTHER, "ab\rc,d,e\n"], // a CR inside the line
      ]);
      expect(decode(bytes.subarray(index.next))).toBe("last,no,end"); // no line feed yet
    } finally {
      index.release();
    }
  });

  it("stops after as many lines as it may record, and says where the next one starts", () => {
    const bytes = encode("a,b\nc,d\ne,f\n");
    const index = PlainLineIndex.acquire(2, { window: 64, records: 2 }) as PlainLineIndex;
    try {
      index.load(bytes, 0, bytes.length);
      expect(index.scan(0, 100)).toBe(2);
      expect(index.next).toBe(8);
      expect(index.scan(8, 1)).toBe(1); // from the same window, not loaded again
      expect(index.next).toBe(bytes.length);
      expect(index.scan(12, 0)).toBe(0); // at the end: nothing more (a budget below 1 counts as 1)
    } finally {
      index.release();
    }
  });

  it("judges a printable-ASCII byte ordinary and every other byte the scanner's way, in each of the 16 lanes", () => {
    const index = PlainLineIndex.acquire(2, DEFAULT_LINE_INDEX_SIZE) as PlainLineIndex;
    try {
      for (let b = 0; b < 256; b++) {
        if (b === 10) continue;
        const plain = b >= 0x20 && b <= 0x7e && b !== 34 && b !== 92 && b !== 44;
        for (let lane = 2; lane < 18; lane++) {
          const bytes = new Uint8Array([...encode(`${"a".repeat(lane - 1)},`), b, ...encode("b\n")]);
          index.load(bytes, 0, bytes.length);
          const kind = index.scan(0, 10) === 1 ? index.kind(0) : -1;
          expect([b, lane, kind]).toEqual([b, lane, plain ? PLAIN : OTHER]);
        }
      }
    } finally {
      index.release();
    }
  });

  it("keeps a few idle instances in all, not one per width, and lends one back only for its width and size", () => {
    const lent = Array.from({ length: 20 }, (_, k) => PlainLineIndex.acquire(k + 1, DEFAULT_LINE_INDEX_SIZE));
    for (const index of lent) index?.release();
    expect(PlainLineIndex.idleCount).toBe(8);
    const again = PlainLineIndex.acquire(20, DEFAULT_LINE_INDEX_SIZE);
    expect(again).toBe(lent[19]); // the most recent of its width
    expect(PlainLineIndex.acquire(1, DEFAULT_LINE_INDEX_SIZE)).not.toBe(lent[0]); // let go long ago: a new one
    expect(PlainLineIndex.acquire(20, { window: 64, records: 4 })).not.toBe(lent[19]);
  });

  it("lends an instance to one scan at a time: a scanner inside another's visit gets its own", () => {
    const inner: string[] = [];
    const outer: string[] = [];
    const scanner = new SnapshotScanner({
      header: () => 2,
      plain: (bytes, cuts) => {
        outer.push(decode(bytes.subarray((cuts[0] as number) + 1, cuts[1])));
        const nested = new SnapshotScanner({
          header: () => 2,
          plain: (b, c) => inner.push(decode(b.subarray((c[1] as number) + 1, c[2]))),
          record: () => {},
        });
        nested.push(encode("h,i\nx,y\n"));
        nested.end();
      },
      record: () => {},
    });
    scanner.push(encode("h1,h2\na,1\nb,2\nc,3\n"));
    scanner.end();
    expect(outer).toEqual(["a", "b", "c"]);
    expect(inner).toEqual(["y", "y", "y"]);
  });
});

describe("SnapshotScanner with the WebAssembly scan", () => {
  it("hands on exactly what the byte-by-byte scan does, however the bytes are cut and the windows sized", () => {
    fc.assert(
      fc.property(textArb, fc.integer({ min: 1, max: 64 }), sizeArb, (bytes, chunkSize, size) => {
        expect(visits(bytes, chunkSize, size)).toEqual(visits(bytes, chunkSize, false));
      }),
      { numRuns: 3000 },
    );
  });

  it("copies a file of many records over several lines into the scan's memory about once, not once per record", () => {
    const record = 'C-1,"two\nlines"\n';
    const plain = "C-2,plain\n".repeat(20);
    const bytes = encode(`id,text\n${(record + plain).repeat(2_000)}`);
    let copied = 0;
    let scanned = 0;
    const { load, scan } = PlainLineIndex.prototype;
    vi.spyOn(PlainLineIndex.prototype, "load").mockImplementation(function (this: PlainLineIndex, b, begin, end) {
      copied += end - begin;
      load.call(this, b, begin, end);
    });
    vi.spyOn(PlainLineIndex.prototype, "scan").mockImplementation(function (this: PlainLineIndex, from, max) {
      const count = scan.call(this, from, max);
      scanned += this.next - from; // the bytes it recorded lines of
      return count;
    });
    const seen = visits(bytes, 1 << 22, DEFAULT_LINE_INDEX_SIZE);
    expect(seen.filter(([kind]) => kind === "plain")).toHaveLength(40_000);
    expect(seen).toHaveLength(42_001);
    // Each record over two lines throws away what the scan recorded after it: a few lines (the scan's budget
    // starts again at 16 after one, and doubles), not the rest of the window; and the scan goes on in the window
    // already copied. (Both were a few hundred times the file before.)
    expect(scanned).toBeLessThan(bytes.length * 3);
    expect(copied).toBeLessThan(bytes.length * 1.5);
  });

  it("reads a very wide header's lines by the scan too (it records fewer lines a call), as byte by byte", () => {
    const width = 100_000; // a header of 590 KB, rows of 200 KB: 100,003 words a record
    const header = Array.from({ length: width }, (_, k) => `c${k}`).join(",");
    const row = (v: string) => Array.from({ length: width }, () => v).join(",");
    const bytes = encode(`${header}\n${row("a")}\n${row("b")}\n${row("c")}\n${row("d")},extra\n`);
    const size = { window: 2 << 20, records: 4096 };
    const counts: number[] = [];
    const { scan } = PlainLineIndex.prototype;
    vi.spyOn(PlainLineIndex.prototype, "scan").mockImplementation(function (this: PlainLineIndex, from, max) {
      const count = scan.call(this, from, max);
      counts.push(count);
      return count;
    });
    const scanned = visits(bytes, 1 << 22, size);
    // Two records a call (1 MiB of them), not 4,096 (1.5 GiB of memory).
    expect(counts).toEqual([2, 2]);
    expect(scanned).toEqual(visits(bytes, 1 << 22, false));
    expect(scanned.map(([kind]) => kind)).toEqual(["record", "plain", "plain", "plain", "record"]);
  });

  it("refuses a window or a budget of no size", () => {
    expect(() => PlainLineIndex.acquire(2, { window: 0, records: 8 })).toThrow(RangeError);
    expect(() => PlainLineIndex.acquire(2, { window: 64, records: 0 })).toThrow(RangeError);
    const index = PlainLineIndex.acquire(2, { window: 8, records: 2 }) as PlainLineIndex;
    try {
      expect(() => index.load(encode("a,b\nc,d\ne,f\n"), 0, 12)).toThrow(RangeError); // more than the window
    } finally {
      index.release();
    }
  });

  it("reads the same without WebAssembly (node --jitless): the byte-by-byte scan is the fallback", () => {
    const script = `
      import { SnapshotScanner } from "./shared/csv/snapshot-scanner.ts";
      const lines = [];
      const s = new SnapshotScanner({ header: (r) => r.fields.length, plain: (b, c, l) => lines.push(l),
        record: (r) => lines.push(-r.line) });
      s.push(new TextEncoder().encode('a,b\\nc,d\\n"e\\nf",g\\nh,i\\n'));
      s.end();
      console.log(typeof WebAssembly, JSON.stringify(lines));`;
    const out = execFileSync(process.execPath, ["--jitless", "--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(out.trim()).toBe("undefined [2,-3,5]");
  });
});
