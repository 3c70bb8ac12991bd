import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CsvRecord,
  CsvRecordReader,
  MAX_RECORD_BYTES,
  RECORD_TOO_LONG,
} from "../../../shared/csv/csv-record-reader";

function readAll(text: string, chunkSizes: number[] = [text.length || 1]): CsvRecord[] {
  const reader = new CsvRecordReader();
  const out: CsvRecord[] = [];
  let at = 0;
  let k = 0;
  while (at < text.length) {
    const size = Math.max(1, chunkSizes[k++ % chunkSizes.length] as number);
    out.push(...reader.push(text.slice(at, at + size)));
    at += size;
  }
  out.push(...reader.end());
  return out;
}

describe("CsvRecordReader", () => {
  it("reads a BOM, CRLF line ends and quoted fields holding commas, quotes and line breaks", () => {
    const text = '\uFEFFa,b,c\r\n1,"x, y","say ""hi"""\r\n2,"two\r\nlines",z\r\n3,,\r\n';
    expect(readAll(text)).toEqual([
      { line: 1, fields: ["a", "b", "c"] },
      { line: 2, fields: ["1", "x, y", 'say "hi"'] },
      { line: 3, fields: ["2", "two\r\nlines", "z"] },
      { line: 5, fields: ["3", "", ""] },
    ]);
  });

  it("numbers records by the physical line where they start, blank lines counted but skipped", () => {
    const text = 'h\n\n"a\nb"\n\r\n\nc\nd';
    expect(readAll(text).map((r) => [r.line, r.fields])).toEqual([
      [1, ["h"]],
      [3, ["a\nb"]],
      [7, ["c"]],
      [8, ["d"]],
    ]);
  });

  it("keeps a lone CR as an ordinary character", () => {
    expect(readAll("a\rb,c\n")).toEqual([{ line: 1, fields: ["a\rb", "c"] }]);
  });

  it("marks a quote inside an unquoted value and goes on with the next record", () => {
    const records = readAll('h,i\nab"c,1\nok,2\n');
    expect(records[1]).toEqual({
      line: 2,
      fields: ['ab"c', "1"],
      error: { fieldIndex: 0, reason: "field 1 has a quote inside an unquoted value" },
    });
    expect(records[2]).toEqual({ line: 3, fields: ["ok", "2"] });
  });

  it("marks text after a closing quote and goes on with the next record", () => {
    const records = readAll('h,i\n1,"a"b\nok,2\n');
    expect(records[1]?.error).toEqual({ fieldIndex: 1, reason: "field 2 has text after its closing quote" });
    expect(records[1]?.line).toBe(2);
    expect(records[2]).toEqual({ line: 3, fields: ["ok", "2"] });
  });

  it("reports a quote never closed at the line where its record starts", () => {
    const records = readAll('h,i\n1,2\n3,"open\n4,5\n');
    expect(records).toHaveLength(3);
    expect(records[2]).toMatchObject({ line: 3, error: { fieldIndex: 1 } });
    expect(records[2]?.error?.reason).toMatch(/never closed/);
  });

  it("refuses a record longer than the limit as a whole, keeping the fields it completed and the records after it", () => {
    const text = `h,i,j\nC-1,${"x".repeat(MAX_RECORD_BYTES)},z\nC-2,ok,1\n`;
    const records = readAll(text, [65_536]);
    expect(records).toHaveLength(3);
    expect(records[1]).toEqual({
      line: 2,
      fields: ["C-1"],
      error: { fieldIndex: -1, reason: RECORD_TOO_LONG, tooLong: true },
    });
    expect(records[2]).toEqual({ line: 3, fields: ["C-2", "ok", "1"] });
  });

  it("counts a record's bytes as UTF-8, its line end excluded: exactly the limit passes, one byte more does not", () => {
    const half = "é".repeat(MAX_RECORD_BYTES / 2 - 1); // 2 bytes each
    const fits = `h\n${half}ab\r\n`; // the limit exactly; the CRLF that ends it is not counted
    expect(readAll(fits)[1]).toEqual({ line: 2, fields: [`${half}ab`] });
    expect(readAll(`h\n${half}abc\n`)[1]?.error?.reason).toBe(RECORD_TOO_LONG);
    // A lone U+DFFF marks one byte that is not UTF-8; U+1F3FF is four bytes (a pair whose second half is U+DFFF).
    expect(readAll(`h\n${"\uDFFF".repeat(MAX_RECORD_BYTES)}\n`)[1]?.error).toBeUndefined();
    expect(readAll(`h\n${"\u{1F3FF}".repeat(MAX_RECORD_BYTES / 4)}\n`)[1]?.error).toBeUndefined();
    expect(readAll(`h\n${"\u{1F3FF}".repeat(MAX_RECORD_BYTES / 4)}a\n`)[1]?.error?.reason).toBe(RECORD_TOO_LONG);
  });

  it("follows the quotes of a record too long to the end, so the lines after it keep their numbers", () => {
    const lines = MAX_RECORD_BYTES / 2 + 1;
    const text = `h,i\nC-1,"${"a\n".repeat(lines)}""still quoted, here",x\nC-2,ok\n`;
    const records = readAll(text, [4096, 7, 100_000]);
    expect(records.map((r) => [r.line, r.error?.reason ?? "ok"])).toEqual([
      [1, "ok"],
      [2, RECORD_TOO_LONG],
      [3 + lines, "ok"],
    ]);
    expect(records[2]?.fields).toEqual(["C-2", "ok"]);
  });

  it("keeps no more of a record's text than the limit, however long the record", () => {
    const records = readAll(`h\n${"ab,".repeat(MAX_RECORD_BYTES)}\n`, [1 << 20]);
    const kept = records[1]?.fields.reduce((sum, f) => sum + f.length + 1, 0) ?? 0;
    expect(kept).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(records[1]?.error?.tooLong).toBe(true);
  });

  it("names the quote never closed, not the length, when an open quote swallowed the rest of the file", () => {
    const records = readAll(`h,i\nC-1,"${"long ".repeat(MAX_RECORD_BYTES / 4)}`);
    expect(records[1]?.error).toEqual({
      fieldIndex: 1,
      reason: "the quote that opens it is never closed: the file ends inside field 2",
      unclosed: true,
      tooLong: true,
    });
    expect(records[1]?.fields).toEqual(["C-1"]);
  });

  const cell = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9 _.:+-]{0,8}$/),
    fc.string({ unit: fc.constantFrom("a", ",", '"', "\n", "\r\n", " ", "é", "日"), maxLength: 8 }),
  );
  const quote = (s: string) => (/[",\r\n]/.test(s) || s === "" ? `"${s.replaceAll('"', '""')}"` : s);
  const table = fc.array(fc.array(cell, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 12 });

  it("reads what csv-parse reads from well-formed RFC 4180 text, LF or CRLF (property)", () => {
    fc.assert(
      fc.property(table, fc.constantFrom("\n", "\r\n"), fc.boolean(), (rows, eol, trailing) => {
        const text = rows.map((r) => r.map(quote).join(",")).join(eol) + (trailing ? eol : "");
        const ours = readAll(text).map((r) => r.fields);
        const theirs = parse(text, { relax_column_count: true, skip_empty_lines: false }) as string[][];
        expect(ours).toEqual(theirs);
      }),
    );
  });

  it("gives the same records however the text is cut into chunks (property)", () => {
    fc.assert(
      fc.property(
        table,
        fc.constantFrom("\n", "\r\n"),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }),
        (rows, eol, sizes) => {
          const text = `\uFEFF${rows.map((r) => r.map(quote).join(",")).join(eol)}${eol}`;
          expect(readAll(text, sizes)).toEqual(readAll(text));
        },
      ),
      { numRuns: 500 },
    );
  });
});
