import { describe, expect, it } from "vitest";
import { csvCell, spreadsheetCell } from "../../../shared/output/line-format";

describe("CSV cells", () => {
  it("quotes what RFC 4180 requires and leaves the rest alone", () => {
    expect([
      csvCell("a"),
      csvCell("a,b"),
      csvCell('say "hi"'),
      csvCell("two\nlines"),
      csvCell(null),
      csvCell(12n),
    ]).toEqual(["a", '"a,b"', '"say ""hi"""', '"two\nlines"', "", "12"]);
  });

  it("keeps a spreadsheet from reading a value as a formula", () => {
    expect(["=1+1", "+81", "-5", "@SUM(A1)", "S-1", "20"].map(spreadsheetCell)).toEqual([
      "'=1+1",
      "'+81",
      "'-5",
      "'@SUM(A1)",
      "S-1",
      "20",
    ]);
    expect(spreadsheetCell("=A1,B1")).toBe(`"'=A1,B1"`);
  });
});
