import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Fingerprint } from "../../../shared/collections/fingerprint-table";
import { CsvRecordReader, MAX_RECORD_BYTES, RECORD_TOO_LONG } from "../../../shared/csv/csv-record-reader";
import { Utf8ChunkDecoder } from "../../../shared/csv/utf8-decoder";
import { UnusableSnapshotError } from "../../../shared/engine/snapshot-header";
import { SUBSCRIPTION_COLUMNS } from "../../../shared/input/subscription-row";
import { csvCell } from "../../../shared/output/line-format";
import {
  manifestCsv,
  manifestItems,
  recordsOfSlice,
  type Slice,
  SnapshotChangedError,
  sliceOfItem,
  sliceRows,
  surveySnapshot,
  UnsafeSnapshotError,
} from "../../../shared/pipeline/survey-snapshot";
import { csvOf, row } from "../../helpers/factories";

const HEADER = SUBSCRIPTION_COLUMNS.join(",");
const bytesOf = (text: string) => new TextEncoder().encode(text);

/** The bytes in chunks of the given sizes (cycled), as a stream would hand them over. */
async function* chunked(bytes: Uint8Array, sizes: number[] = [1 << 20]) {
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length] as number;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

/** Every record of a whole file, read at once (the reference the slices must reproduce). */
function wholeRecords(bytes: Uint8Array) {
  const reader = new CsvRecordReader();
  const decoder = new Utf8ChunkDecoder();
  return [...reader.push(decoder.decode(bytes)), ...reader.push(decoder.end()), ...reader.end()];
}

describe("surveySnapshot", () => {
  it("cuts at record boundaries, with the byte ranges and first lines computed by hand", async () => {
    // Line 1 header (BOM: 3 bytes), line 2 C-1, lines 3–4 C-2 (a quoted line break), line 5 empty (1 byte, in
    // batch 1: a slice runs up to the next slice's first record), line 6 C-3.
    const r1 = "C-1,S-1,IMADOKO,210,JPY,2011-01-01,,,\r\n"; // 39 bytes
    const r2 = 'C-2,"S-\n2",IMADOKO,210,JPY,2011-01-01,,,\n'; // 41 bytes over two lines
    const r3 = "C-3,S-日,IMADOKO,210,JPY,2011-01-01,,,"; // no line end at the end of the file
    const text = `\uFEFF${HEADER}\n${r1}${r2}\n${r3}`;
    const bytes = bytesOf(text);
    const headerBytes = 3 + HEADER.length + 1;
    expect(bytesOf(r1).length).toBe(39);
    expect(bytesOf(r2).length).toBe(41);

    const survey = await surveySnapshot("subs.csv", () => chunked(bytes, [7, 13]), 2);
    expect(survey.rows).toBe(3);
    expect(survey.bytes).toBe(bytes.length);
    expect(survey.slices.map(({ sha256, ...s }) => s)).toEqual([
      { batchNo: 1, firstLine: 2, start: headerBytes, end: headerBytes + 39 + 41 + 1, rows: 2 },
      { batchNo: 2, firstLine: 6, start: headerBytes + 39 + 41 + 1, end: bytes.length, rows: 1 },
    ]);
    const [first, second] = survey.slices as [never, never];
    const slice1 = recordsOfSlice(
      "subs.csv",
      first,
      bytes.subarray(headerBytes, headerBytes + 81),
      survey.header.width,
    );
    expect(slice1.map((r) => [r.line, r.fields[1]])).toEqual([
      [2, "S-1"],
      [3, "S-\n2"],
    ]);
    const slice2 = recordsOfSlice("subs.csv", second, bytes.subarray(headerBytes + 81), survey.header.width);
    expect(slice2.map((r) => [r.line, r.fields[1]])).toEqual([[6, "S-日"]]);
  });

  it("finds duplicate ids and digests the whole file", async () => {
    const text = csvOf([row({}, 1), row({}, 2), row({ subscriber_id: "other" }, 1)]);
    const survey = await surveySnapshot("subs.csv", () => chunked(bytesOf(text)), 1000);
    expect([...survey.duplicates]).toEqual(["C-1"]);
    const { createHash } = await import("node:crypto");
    expect(survey.sha256).toBe(createHash("sha256").update(text).digest("hex"));
    expect(survey.slices).toHaveLength(1);
  });

  it("refuses rows a rerun could not attribute, listing the first ten", async () => {
    const rows = Array.from({ length: 12 }, (_, i) => row({ subscription_id: "" }, i));
    const error = await surveySnapshot("subs.csv", () => chunked(bytesOf(csvOf(rows))), 5).catch((e) => e);
    expect(error).toBeInstanceOf(UnsafeSnapshotError);
    expect(error.problems).toHaveLength(11);
    expect(error.problems[0]).toBe("line 2: no subscription_id");
    expect(error.problems[10]).toBe("… and 2 more like these");

    const unclosed = `${HEADER}\nC-1,"S-1,IMADOKO,210,JPY,2011-01-01,,,\nC-2,S-2,IMADOKO,210,JPY,2011-01-01,,,\n`;
    await expect(surveySnapshot("subs.csv", () => chunked(bytesOf(unclosed)), 5)).rejects.toThrow(
      /subs\.csv: a run cannot tell whose stored lines these rows would keep[\s\S]*line 2: the quote that opens it is never closed/,
    );
  });

  it("on a rerun, refuses a row whose subscription it cannot be sure of; on a first run only rejects it", async () => {
    const rows = [
      `${HEADER}`,
      "C-1,S-1,IMADOKO,210,JPY,2011-01-01,,,", // line 2: fine
      '"C-2"x,S-2,IMADOKO,210,JPY,2011-01-01,,,', // line 3: text after the closing quote of the id
      "C-@3,S-3,IMADOKO,210,JPY,2011-01-01,,,", // line 4: an id with a byte that is not UTF-8 (the @, below)
      "C-4,S-4,IMADOKO,210,JPY,2011-01-01,,", // line 5: eight fields
    ];
    const bytes = bytesOf(`${rows.join("\n")}\n`).map((b) => (b === 0x40 ? 0xff : b));
    const error = await surveySnapshot("s.csv", () => chunked(bytes), 10).catch((e) => e);
    expect(error.problems).toEqual([
      expect.stringMatching(/^line 3: subscription_id: /),
      "line 4: subscription_id: holds bytes that are not UTF-8",
      "line 5: has 8 fields, the header has 9, so its subscription_id may be another column's",
    ]);
    const first = await surveySnapshot("s.csv", () => chunked(bytes), 10, { strict: false });
    expect(first.rows).toBe(4);
  });

  it("on a rerun, refuses a record longer than the limit; on a first run reads past it to the next rows", async () => {
    const text = `${HEADER}\nC-1,S-1,IMADOKO,210,JPY,2011-01-01,,,${"x".repeat(MAX_RECORD_BYTES)}\nC-2,S-2,IMADOKO,210,JPY,2011-01-01,,,\n`;
    const bytes = bytesOf(text);
    const error = await surveySnapshot("s.csv", () => chunked(bytes, [65_536]), 10).catch((e) => e);
    expect(error).toBeInstanceOf(UnsafeSnapshotError);
    expect(error.problems).toEqual([`line 2: ${RECORD_TOO_LONG}, so its subscription_id is not certain`]);
    const first = await surveySnapshot("s.csv", () => chunked(bytes, [65_536]), 1, { strict: false });
    expect(first.rows).toBe(2);
    expect(first.duplicates.size).toBe(0);
    const records = first.slices.flatMap((s) =>
      recordsOfSlice("s.csv", s, bytes.subarray(s.start, s.end), first.header.width),
    );
    expect(records.map((r) => [r.line, r.error?.reason])).toEqual([
      [2, RECORD_TOO_LONG],
      [3, undefined],
    ]);
  });

  it("refuses an empty file and a bad header as unusable", async () => {
    await expect(surveySnapshot("e.csv", () => chunked(new Uint8Array(0)), 5)).rejects.toThrow(
      new UnusableSnapshotError("e.csv: the file is empty: it needs a header row"),
    );
    await expect(surveySnapshot("h.csv", () => chunked(bytesOf("a,b\n1,2\n")), 5)).rejects.toThrow(/^h\.csv: line 1: /);
  });

  it("refuses a slice whose bytes changed since the survey", async () => {
    const text = csvOf([row({}, 1), row({}, 2)]);
    const bytes = bytesOf(text);
    const [slice] = (await surveySnapshot("s.csv", () => chunked(bytes), 10)).slices as [never];
    const tampered = bytes.slice((slice as { start: number }).start);
    tampered[tampered.length - 3] = 0x41;
    expect(() => recordsOfSlice("s.csv", slice, tampered, 9)).toThrow(SnapshotChangedError);
    expect(() => recordsOfSlice("s.csv", slice, tampered, 9)).toThrow(
      /^s\.csv: batch 1: the bytes \d+–\d+ are not those/,
    );
  });

  it("refuses a slice that holds another number of rows than prepare found, once its rows are read", async () => {
    const bytes = bytesOf(csvOf([row({}, 1), row({}, 2)]));
    const [slice] = (await surveySnapshot("s.csv", () => chunked(bytes), 10)).slices as [Slice];
    const mine = bytes.slice(slice.start);
    // The digest matches (as if prepare had miscounted): the count is the second guard, checked once the rows are
    // read (a batch reads them all before it reads or writes the store: compute-batch.test.ts).
    const miscounted = { ...slice, rows: 3 };
    expect(() => recordsOfSlice("s.csv", miscounted, mine, 9)).toThrow(
      /^s\.csv: batch 1: 2 rows where prepare found 3$/,
    );
    const visited: number[] = [];
    const rows = sliceRows("s.csv", slice, mine, 9);
    rows({ plain: (_b, _c, line) => visited.push(line), record: (r) => visited.push(r.line) });
    expect(visited).toEqual([2, 3]);
  });

  // Any table of cells (commas, quotes, line breaks, CRLF, multi-byte), any chunking, any batch size: the slices
  // cover the data rows exactly once, end to end, and read back the very records (lines and fields) of a whole read.
  it("slices reproduce a whole read of any file (property)", async () => {
    const cell = fc.string({ unit: fc.constantFrom("a", ",", '"', "\n", "\r\n", " ", "é", "日", "\r"), maxLength: 6 });
    const quote = (c: string) => (/[",\n\r]/.test(c) || c === "" ? `"${c.replaceAll('"', '""')}"` : c);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.stringMatching(/^[A-Z]-[0-9]{1,3}$/), cell), { maxLength: 25 }),
        fc.constantFrom("\n", "\r\n"),
        fc.boolean(),
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 4 }),
        async (cells, eol, trailing, batchSize, sizes) => {
          const lines = [HEADER, ...cells.map(([id, c]) => `${id},${quote(c)},IMADOKO,210,JPY,2011-01-01,,,`)];
          const bytes = bytesOf(lines.join(eol) + (trailing ? eol : ""));
          const survey = await surveySnapshot("p.csv", () => chunked(bytes, sizes), batchSize);
          const expected = wholeRecords(bytes).slice(1);
          const got = survey.slices.flatMap((s) =>
            recordsOfSlice("p.csv", s, bytes.subarray(s.start, s.end), survey.header.width),
          );
          expect(got).toEqual(expected);
          for (let i = 1; i < survey.slices.length; i++)
            expect(survey.slices[i]?.start).toBe(survey.slices[i - 1]?.end);
          expect(survey.slices.at(-1)?.end ?? bytes.length).toBe(bytes.length);
          expect(survey.rows).toBe(expected.length);
          expect(survey.slices.every((s, i) => s.rows === Math.min(batchSize, expected.length - i * batchSize))).toBe(
            true,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** Makes every id fingerprint as `as(id)` does: two ids the same `as` maps to then share a fingerprint. */
function fingerprintAs(as: (id: string) => string) {
  const ofString = Fingerprint.prototype.ofString;
  return vi.spyOn(Fingerprint.prototype, "ofString").mockImplementation(function (this: Fingerprint, id: string) {
    return ofString.call(this, as(id));
  });
}

/** A snapshot's rows: an id each, and whether the row has the header's width (else one field short). */
function snapshotOf(rows: readonly { id: string; whole: boolean }[]): Uint8Array {
  const lines = [HEADER];
  for (const { id, whole } of rows) {
    lines.push(`${csvCell(id)},S-1,IMADOKO,210,JPY,2011-01-01,,${whole ? "," : ""}`);
  }
  return bytesOf(`${lines.join("\n")}\n`);
}

describe("surveySnapshot's duplicates", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("reads the snapshot once when no two ids share a fingerprint", async () => {
    // Prepare: distinct ids, and a row of the wrong width with an id already met (it has no id to count).
    const bytes = snapshotOf([
      { id: "C-1", whole: true },
      { id: "C-2", whole: true },
      { id: "C-1", whole: false },
    ]);
    const chunks = vi.fn(() => chunked(bytes));

    // Act
    const survey = await surveySnapshot("s.csv", chunks, 10, { strict: false });

    // Assess
    expect(chunks).toHaveBeenCalledTimes(1);
    expect(survey.duplicates.size).toBe(0);
    expect(survey.rows).toBe(3);
  });

  it("reads it a second time to confirm the suspects, and lists each repeated id once, as met the second time", async () => {
    // Prepare
    const bytes = snapshotOf(
      ["日-1", "C-2", "C-3", "C-2", "日-1", "C-2", "C,4", "C,4", "C-5"].map((id) => ({ id, whole: true })),
    );
    const chunks = vi.fn(() => chunked(bytes, [5, 11]));

    // Act
    const survey = await surveySnapshot("s.csv", chunks, 4);

    // Assess
    expect(chunks).toHaveBeenCalledTimes(2);
    expect([...survey.duplicates]).toEqual(["C-2", "日-1", "C,4"]);
  });

  it("does not report two different ids whose fingerprints collide", async () => {
    // Prepare: C-2 fingerprints as C-1 does; C-3 is a true duplicate.
    fingerprintAs((id) => (id === "C-2" ? "C-1" : id));
    const bytes = snapshotOf(["C-1", "C-2", "C-3", "C-3"].map((id) => ({ id, whole: true })));
    const chunks = vi.fn(() => chunked(bytes));

    // Act
    const survey = await surveySnapshot("s.csv", chunks, 10);

    // Assess: the collision made suspects (a second read), and only the true duplicate is one.
    expect(chunks).toHaveBeenCalledTimes(2);
    expect([...survey.duplicates]).toEqual(["C-3"]);
  });

  it("refuses a snapshot whose bytes change between its two reads (other, more or fewer)", async () => {
    const bytes = snapshotOf(["C-1", "C-2", "C-1"].map((id) => ({ id, whole: true })));
    const other = bytes.slice();
    other[other.length - 3] = 0x41; // a byte of the last row's last cells
    const more = bytesOf(`${new TextDecoder().decode(bytes)}C-3,S-3,IMADOKO,210,JPY,2011-01-01,,,\n`);
    const fewer = bytes.subarray(0, bytes.length - 1);
    for (const second of [other, more, fewer]) {
      // Prepare: the first read sees `bytes`, the second `second`.
      const reads = [bytes, second];
      const chunks = vi.fn(() => chunked(reads.shift() as Uint8Array, [9]));

      // Act
      const error = await surveySnapshot("s.csv", chunks, 10).catch((e) => e);

      // Assess
      expect(chunks).toHaveBeenCalledTimes(2);
      expect(error).toBeInstanceOf(SnapshotChangedError);
      expect(error.message).toBe(
        "s.csv: the snapshot changed while it was surveyed: its bytes are not those first read",
      );
    }
  });

  // Ids from a small pool (so they repeat), some needing quotes or beyond ASCII, some rows of the wrong width (no
  // id to count), any chunking; with true fingerprints, or with ones so coarse that most ids collide: the
  // duplicates are exactly the ids a naive count finds twice among the rows of the right width, in the order of
  // their second occurrence, and the snapshot is read twice only when there were suspects.
  it("finds exactly the duplicates of a naive count, however the fingerprints collide (property)", async () => {
    const id = fc.oneof(fc.stringMatching(/^C-[0-9]{1,2}$/), fc.constantFrom("日-1", "é", 'C,"9"', "C\n9"));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ id, whole: fc.integer({ min: 0, max: 5 }).map((n) => n > 0) }), { maxLength: 60 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 3 }),
        async (rows, coarse, sizes) => {
          // Prepare
          vi.restoreAllMocks();
          if (coarse) fingerprintAs((id) => String(id.length % 3));
          const bytes = snapshotOf(rows);
          const chunks = vi.fn(() => chunked(bytes, sizes));
          const seen = new Set<string>();
          const expected = new Set<string>();
          for (const { id, whole } of rows) {
            if (!whole) continue;
            if (seen.has(id)) expected.add(id);
            seen.add(id);
          }

          // Act
          const survey = await surveySnapshot("p.csv", chunks, 7, { strict: false });

          // Assess
          expect([...survey.duplicates]).toEqual([...expected]);
          if (!coarse) expect(chunks).toHaveBeenCalledTimes(expected.size > 0 ? 2 : 1);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("the manifest", () => {
  it("round-trips through the CSV the Map reads, values as strings", async () => {
    const text = csvOf(Array.from({ length: 7 }, (_, i) => row({}, i)));
    const { slices } = await surveySnapshot("m.csv", () => chunked(bytesOf(text)), 3);
    const csv = manifestCsv(slices);
    expect(csv.split("\n")[0]).toBe("batchNo,firstLine,start,end,rows,sha256");
    expect(manifestItems(csv).map(sliceOfItem)).toEqual(slices);
  });

  it("refuses an item that is not a slice, naming the field", () => {
    const good = { batchNo: "1", firstLine: "2", start: "10", end: "20", rows: "1", sha256: "a".repeat(64) };
    expect(sliceOfItem(good)).toMatchObject({ batchNo: 1, start: 10 });
    expect(() => sliceOfItem({ ...good, start: "-1" })).toThrow(
      'manifest item: start: must be a whole number (got "-1")',
    );
    expect(() => sliceOfItem({ ...good, sha256: "x" })).toThrow("manifest item: sha256: must be 64 hex digits");
  });
});
