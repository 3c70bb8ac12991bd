import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { exact } from "../../../shared/rules/exact";
import { THIRTY_DAYS_SECONDS } from "../../../shared/rules/rule";
import { context, disjointPieces, piece, shown } from "../../helpers/rule-context";

// Contract, computation step 2 (`exact`): seconds of E inside the period, where the period runs from local
// midnight of its first day to local midnight of the next period's first day (DST days are 23 or 25 hours).
// Step 3: basis is the period's seconds ("actual") or 2,592,000.

describe("exact", () => {
  it("counts the sp-mode window's seconds out of December's", () => {
    // 2011-12-20 23:30 → 2011-12-22 14:00 = 38.5 h = 138,600 s; December in Tokyo (no DST) = 31 × 86,400 =
    // 2,678,400 s.
    const window = piece("2011-12-20T23:30:00+09:00", "2011-12-22T14:00:00+09:00");
    expect(shown(exact([window], context("Asia/Tokyo")))).toEqual(["2011-12-01/2012-01-01 138600/2678400 second"]);
    // Day basis 30: 30 × 86,400 = 2,592,000 s.
    expect(shown(exact([window], context("Asia/Tokyo", 1, 30)))).toEqual([
      "2011-12-01/2012-01-01 138600/2592000 second",
    ]);
    expect(THIRTY_DAYS_SECONDS).toBe(2_592_000);
  });

  it("splits a piece at local midnight of the period's first day", () => {
    // 2011-11-30 22:00 → 2011-12-01 03:00 (Tokyo): 2 h = 7,200 s of November (30 × 86,400 = 2,592,000 s), 3 h =
    // 10,800 s of December (2,678,400 s).
    const out = exact([piece("2011-11-30T22:00:00+09:00", "2011-12-01T03:00:00+09:00")], context("Asia/Tokyo"));
    expect(shown(out)).toEqual([
      "2011-11-01/2011-12-01 7200/2592000 second",
      "2011-12-01/2012-01-01 10800/2678400 second",
    ]);
  });

  it("measures a period with a DST change in real seconds: New York's March 2021 is an hour short", () => {
    // Clocks went 02:00 → 03:00 on 2021-03-14: March 2021 = 31 × 86,400 − 3,600 = 2,674,800 s. The window
    // 13th 12:00 (−05:00) → 14th 12:00 (−04:00) is 17:00Z → 16:00Z = 23 h = 82,800 s.
    const out = exact([piece("2021-03-13T12:00:00-05:00", "2021-03-14T12:00:00-04:00")], context("America/New_York"));
    expect(shown(out)).toEqual(["2021-03-01/2021-04-01 82800/2674800 second"]);
  });

  it("adds the pieces of one period together", () => {
    // 1 h on the 5th + 2 h on the 20th = 10,800 s of December (UTC).
    const out = exact(
      [piece("2011-12-05T00:00:00Z", "2011-12-05T01:00:00Z"), piece("2011-12-20T10:00:00Z", "2011-12-20T12:00:00Z")],
      context("UTC"),
    );
    expect(shown(out)).toEqual(["2011-12-01/2012-01-01 10800/2678400 second"]);
  });

  it("property: the seconds over all periods are the pieces' length, each period's at most its own length", () => {
    const pieces = disjointPieces("2011-01-01T00:00:00Z", "2011-07-01T00:00:00Z");
    fc.assert(
      fc.property(
        pieces,
        fc.integer({ min: 1, max: 31 }),
        fc.constantFrom("UTC", "Asia/Tokyo", "America/New_York"),
        (ps, day, zone) => {
          const out = exact(ps, context(zone, day));
          const length = ps.reduce((sum, p) => sum + (p.end - p.start), 0);
          expect(out.reduce((sum, p) => sum + p.units, 0)).toBe(length);
          for (const p of out) expect(p.units).toBeLessThanOrEqual(p.basis);
        },
      ),
    );
  });
});
