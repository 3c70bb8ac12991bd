import { describe, expect, it } from "vitest";
import { TextRecordSource } from "../../../shared/engine/text-record-source";

describe("TextRecordSource", () => {
  it("gives a snapshot held as text as its CSV records, with physical line numbers, in one page", async () => {
    // Prepare: a header, a quoted line break inside the second record, no newline at the end
    const source = new TextRecordSource('a,b\n1,"x\ny"\n2,z', "snapshot.csv");

    // Act
    const pages = [];
    for await (const page of source.records()) pages.push(page);

    // Assess
    expect(source.name).toBe("snapshot.csv");
    expect(pages).toHaveLength(1);
    expect(pages[0]?.map((r) => [r.line, r.fields])).toEqual([
      [1, ["a", "b"]],
      [2, ["1", "x\ny"]],
      [4, ["2", "z"]],
    ]);
  });
});
