import { describe, expect, it } from "vitest";
import { unaccountedRows } from "../../../shared/pipeline/run-steps";
import { ZERO_COUNTS } from "../../../shared/store/refund-store";

describe("unaccountedRows", () => {
  const counts = { ...ZERO_COUNTS, rows: 10, computed: 6, skipped: 3, rejected: 1 };

  it("finds nothing wrong when every surveyed row ended computed, skipped or rejected", () => {
    expect(unaccountedRows(counts, 10)).toBeUndefined();
  });

  it("names a row the batches never judged, and a row judged but never ended", () => {
    expect(unaccountedRows(counts, 11)).toBe("the batches judged 10 rows where the snapshot holds 11");
    expect(unaccountedRows({ ...counts, skipped: 2 }, 10)).toBe("10 rows, yet 6 computed + 2 skipped + 1 rejected = 9");
  });
});
