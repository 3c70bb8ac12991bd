import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CsvRecord, CsvRecordReader } from "../../../shared/csv/csv-record-reader";

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
