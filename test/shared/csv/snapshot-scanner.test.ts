import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { type CsvRecord, CsvRecordReader, MAX_RECORD_BYTES } from "../../../shared/csv/csv-record-reader";
import { type LineIndexSize, PLAIN, PlainLineIndex } from "../../../shared/csv/plain-line-index";
import { SnapshotScanner, scanIdsLoosely, scanSnapshot } from "../../../shared/csv/snapshot-scanner";
import { Utf8ChunkDecoder } from "../../../shared/csv/utf8-decoder";

const encode = (text: string) => new TextEncoder().encode(text);

/** The records CsvRecordReader makes of a file's bytes, as FileRecordSource reads it. */
function readerRecords(bytes: Uint8Array): CsvRecord[] {
  const reader = new CsvRecordReader();
  const decoder = new Utf8ChunkDecoder();
  return [...reader.push(decoder.decode(bytes)), ...reader.push(decoder.end()), ...reader.end()];
}

async function* chunked(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.slice(at, at + size);
}

/**
 * What the scanner hands on, as records (a plain line's fields decoded), the header first; `size` as the scanner
 * takes it (the WebAssembly scan's window and records; false: byte by byte).
 */
async function scannedRecords(bytes: Uint8Array, chunkSize: number, size?: LineIndexSize | false) {
  const records: CsvRecord[] = [];
  let plain = 0;
  let width = 0;
  const scanner = new SnapshotScanner(
    {
      header: (record) => {
        records.push(record);
        width = record.fields.length;
        return width;
      },
      plain: (line, cuts, at) => {
        plain++;
        const fields: string[] = [];
        for (let k = 0; k < width; k++) {
          fields.push(new TextDecoder().decode(line.subarray((cuts[k] as number) + 1, cuts[k + 1])));
        }
        records.push({ line: at, fields });
      },
      record: (record) => records.push(record),
    },
    undefined,
    size,
  );
  for await (const chunk of chunked(bytes, chunkSize)) scanner.push(chunk);
  scanner.end();
  const found = scanner.hasHeader;
  return { records, plain, found };
}

/** CSV-ish text from the characters the grammar cares about, and bytes that are not UTF-8 (from U+0000). */
const textArb = fc
  .string({
    unit: fc.constantFrom("a", "b", "1", ",", ",", '"', "\n", "\n", "\r", "\r\n", "\uFEFF", "é", "\\", "\t", "\u0000"),
    maxLength: 200,
  })
  .map((text) => {
    const bytes = encode(text);
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) bytes[i] = 0xc3; // a lead byte with no follower
    return bytes;
  });

describe("SnapshotScanner", () => {
  it("hands on exactly CsvRecordReader's records, with the same line numbers, however the bytes are cut", async () => {
    await fc.assert(
      fc.asyncProperty(textArb, fc.integer({ min: 1, max: 64 }), async (bytes, chunkSize) => {
        const expected = readerRecords(bytes);
        const { records, found } = await scannedRecords(bytes, chunkSize);
        expect(records).toEqual(expected);
        expect(found).toBe(expected.length > 0);
      }),
      { numRuns: 2000 },
    );
  });

  it("splits plain lines in place and gives the reader the rest: quotes, lone CRs, non-ASCII, wrong widths", async () => {
    const text =
      '\uFEFFid,name,fee\r\nC-1,a,1\r\nC-2,"b\nc",2\nC-3,é,3\nC-4,x\ry,4\nC-5,too,many,5\n\nC-6,back\\slash,6\nC-7,z,7';
    const { records, plain } = await scannedRecords(encode(text), 7);
    expect(records.map((r) => [r.line, ...r.fields])).toEqual([
      [1, "id", "name", "fee"],
      [2, "C-1", "a", "1"],
      [3, "C-2", "b\nc", "2"],
      [5, "C-3", "é", "3"],
      [6, "C-4", "x\ry", "4"],
      [7, "C-5", "too", "many", "5"],
      [9, "C-6", "back\\slash", "6"],
      [10, "C-7", "z", "7"],
    ]);
    expect(plain).toBe(2); // C-1 and C-7; the backslash goes to the reader too (JSON must escape it)
  });

  it("gives the reader a plain line longer than a record may be, however it is cut, and reads the next lines plain", async () => {
    const long = `C-2,${"x".repeat(MAX_RECORD_BYTES - 4)},2`; // the limit and one byte
    const exact = `C-3,${"y".repeat(MAX_RECORD_BYTES - 6)},3`; // the limit exactly: still plain
    for (const last of ["\n", ""]) {
      const bytes = encode(`id,name,fee\nC-1,a,1\n${exact}\n${long}${last === "" ? "" : `\nC-4,d,4${last}`}`);
      // The default window (shorter than these lines: judged byte by byte), and one longer than the limit, so that
      // the WebAssembly scan judges the limit itself; and byte by byte throughout.
      for (const size of [undefined, { window: 3 << 20, records: 64 }, false as const]) {
        for (const chunkSize of [1 << 22, 65_536, 999_999]) {
          const { records, plain } = await scannedRecords(bytes, chunkSize, size);
          expect(records).toEqual(readerRecords(bytes));
          expect(records[3]?.error?.tooLong).toBe(true);
          expect(plain).toBe(last === "" ? 2 : 3); // C-1, C-3 (and C-4)
        }
      }
    }
  });

  it("reads megabytes without a line feed as one record too long, then the line after it as plain", async () => {
    async function* stream() {
      const chunk = encode("x".repeat(65_536));
      yield encode("id,name\nC-1,");
      for (let i = 0; i < 40; i++) yield chunk; // 2.5 MiB without a line feed: handed on as it comes, not held
      yield encode("\nC-2,b\n");
    }
    const records: CsvRecord[] = [];
    const plain: number[] = [];
    await scanSnapshot(stream(), {
      header: (r) => r.fields.length,
      plain: (_bytes, _cuts, line) => plain.push(line),
      record: (r) => records.push(r),
    });
    expect(records.map((r) => [r.line, r.fields, r.error?.tooLong])).toEqual([[2, ["C-1"], true]]);
    expect(plain).toEqual([3]);
  });
});

describe("scanIdsLoosely", () => {
  it("finds every record's id among the ids it hands on, or says it cannot read the file loosely", async () => {
    await fc.assert(
      fc.asyncProperty(
        textArb,
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 64 }),
        async (b, column, size) => {
          const seen = new Set<string>();
          const loose = await scanIdsLoosely(chunked(b, size), column, (bytes, start, end) => {
            seen.add(new TextDecoder().decode(bytes.subarray(start, end)));
          });
          if (!loose) return;
          const [, ...rows] = readerRecords(b);
          for (const record of rows) {
            if (!record.error && record.fields.length > column) expect(seen).toContain(record.fields[column]);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("hands on the same ids, and gives up at the same lines, when the plain lines are found by the scan (property)", async () => {
    // Lines of the header's width, mostly plain (the lines the scan takes), among lines it must leave: the wrong
    // width, bytes that are not plain, quotes; chunks large enough that most lines are whole in one.
    const field = fc.stringMatching(/^[a-z0-9-]{0,5}$/);
    const caseArb = fc.integer({ min: 1, max: 4 }).chain((width) =>
      fc.record({
        width: fc.constant(width),
        lines: fc.array(
          fc.oneof(
            { weight: 8, arbitrary: fc.array(field, { minLength: width, maxLength: width }).map((f) => f.join(",")) },
            { weight: 1, arbitrary: fc.array(field, { minLength: 1, maxLength: width + 2 }).map((f) => f.join(",")) },
            {
              weight: 1,
              arbitrary: fc.string({ unit: fc.constantFrom("a", ",", '"', "\r", "é", "\\", "\t"), maxLength: 10 }),
            },
          ),
          { maxLength: 60, size: "max" },
        ),
        ends: fc.array(fc.constantFrom("\n", "\n", "\r\n", "\n\n"), { minLength: 61, maxLength: 61 }),
        column: fc.integer({ min: 0, max: width }),
        chunk: fc.integer({ min: 1, max: 1024 }),
        indexSize: fc.record({ window: fc.integer({ min: 1, max: 400 }), records: fc.integer({ min: 1, max: 6 }) }),
        last: fc.boolean(), // the last line ends with a line feed
      }),
    );
    let plainRecords = 0;
    const { scan } = PlainLineIndex.prototype;
    const spy = vi.spyOn(PlainLineIndex.prototype, "scan").mockImplementation(function (this: PlainLineIndex, f, m) {
      const count = scan.call(this, f, m);
      for (let r = 0; r < count; r++) if (this.kind(r) === PLAIN) plainRecords++;
      return count;
    });
    try {
      await fc.assert(
        fc.asyncProperty(caseArb, async ({ width, lines, ends, column, chunk, indexSize, last }) => {
          const header = Array.from({ length: width }, (_, k) => `h${k}`).join(",");
          const text = [header, ...lines].map((l, i) => l + (ends[i] as string)).join("");
          const b = encode(last ? text : text.replace(/\r?\n$/, ""));
          const ids = async (plain?: { width: number; indexSize: LineIndexSize }) => {
            const seen: string[] = [];
            const each = (bytes: Uint8Array, start: number, end: number) =>
              seen.push(new TextDecoder().decode(bytes.subarray(start, end)));
            const loose = await scanIdsLoosely(chunked(b, chunk), column, each, undefined, plain);
            return { loose, seen };
          };
          expect(await ids({ width, indexSize })).toEqual(await ids());
        }),
        { numRuns: 2000 },
      );
    } finally {
      spy.mockRestore();
    }
    // The scan's own path was taken, many times over (a property that never reached it would prove nothing).
    expect(plainRecords).toBeGreaterThan(4_000);
  });

  it("refuses a line index of no size when it is made, before any byte is read", async () => {
    const visitor = { header: () => 1, plain: () => {}, record: () => {} };
    expect(() => new SnapshotScanner(visitor, undefined, { window: 0, records: 8 })).toThrow(RangeError);
    await expect(
      scanIdsLoosely(chunked(encode("h\n"), 8), 5, () => {}, undefined, {
        width: 1,
        indexSize: { window: 8, records: 0 },
      }),
    ).rejects.toThrow(RangeError);
  });

  it("reads plain lines after the header, and gives up at a quote before the id's end", async () => {
    const ids: string[] = [];
    const each = (bytes: Uint8Array, start: number, end: number) =>
      ids.push(new TextDecoder().decode(bytes.subarray(start, end)));
    const plain = encode('h1,h2\nA,C-1\r\nB,C-2,"x\n\nshort\nD,C-3');
    expect(await scanIdsLoosely(chunked(plain, 3), 1, each)).toBe(true);
    expect(ids).toEqual(["C-1", "C-2", "C-3"]);
    expect(await scanIdsLoosely(chunked(encode('h1,h2\nA,"C-1"\n'), 64), 1, each)).toBe(false);
  });

  it("gives up at a line longer than a record may be rather than hold it", async () => {
    const bytes = encode(`h1,h2\nA,C-1\nB,${"x".repeat(MAX_RECORD_BYTES)}\nC,C-3\n`);
    expect(await scanIdsLoosely(chunked(bytes, 65_536), 1, () => {})).toBe(false);
  });
});
