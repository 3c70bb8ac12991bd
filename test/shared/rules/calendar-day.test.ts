import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { calendarDay } from "../../../shared/rules/calendar-day";
import { context, disjointPieces, piece, shown } from "../../helpers/rule-context";

// Contract, computation step 2 (`calendar-day`): a local calendar day counts when E overlaps it for a positive
// length; each counted day belongs to the billing period that contains it. Step 3: basis is the period's days
// ("actual") or 30, units capped at the basis.

describe("calendarDay", () => {
  it("counts every local day the suspension touches: the sp-mode window is 3 days of December", () => {
    // 2011-12-20 23:30 → 2011-12-22 14:00 (Tokyo) touches the 20th (30 minutes), the 21st and the 22nd: 3 days;
    // billing day 1: the period 2011-12-01..2012-01-01 holds all three, 31 days.
    const out = calendarDay([piece("2011-12-20T23:30:00+09:00", "2011-12-22T14:00:00+09:00")], context("Asia/Tokyo"));
    expect(shown(out)).toEqual(["2011-12-01/2012-01-01 3/31 day"]);
  });

  it("counts days in the row's zone: one Tokyo day is two UTC days", () => {
    // 2011-12-21 02:30 → 17:00 in Tokyo is one local day (the 21st); in UTC it is 2011-12-20 17:30 → 2011-12-21
    // 08:00: two days (the 20th and the 21st).
    const window = piece("2011-12-21T02:30:00+09:00", "2011-12-21T17:00:00+09:00");
    expect(shown(calendarDay([window], context("UTC")))).toEqual(["2011-12-01/2012-01-01 2/31 day"]);
    expect(shown(calendarDay([window], context("Asia/Tokyo")))).toEqual(["2011-12-01/2012-01-01 1/31 day"]);
  });

  it("does not count the day a suspension ends on at its midnight: [20th 00:00, 22nd 00:00) is 2 days", () => {
    // The last instant of E is 21st 23:59:59; the 22nd is touched for no time.
    const out = calendarDay([piece("2011-12-20T00:00:00+09:00", "2011-12-22T00:00:00+09:00")], context("Asia/Tokyo"));
    expect(shown(out)).toEqual(["2011-12-01/2012-01-01 2/31 day"]);
  });

  it("gives each day to the period containing it: billing day 21 splits the window 1/30 + 2/31", () => {
    // Billing day 21: the 20th is in 2011-11-21..2011-12-21 (30 days), the 21st and 22nd in 2011-12-21..2012-01-21
    // (31 days).
    const window = piece("2011-12-20T23:30:00+09:00", "2011-12-22T14:00:00+09:00");
    expect(shown(calendarDay([window], context("Asia/Tokyo", 21)))).toEqual([
      "2011-11-21/2011-12-21 1/30 day",
      "2011-12-21/2012-01-21 2/31 day",
    ]);
    // Day basis 30: the same days, out of 30 in both periods.
    expect(shown(calendarDay([window], context("Asia/Tokyo", 21, 30)))).toEqual([
      "2011-11-21/2011-12-21 1/30 day",
      "2011-12-21/2012-01-21 2/30 day",
    ]);
  });

  it("counts a day two pieces share once", () => {
    // Pieces 20th 01:00–02:00 and 20th 05:00 → 21st 01:00: days 20 and 21, the 20th once.
    const out = calendarDay(
      [
        piece("2011-12-20T01:00:00+09:00", "2011-12-20T02:00:00+09:00"),
        piece("2011-12-20T05:00:00+09:00", "2011-12-21T01:00:00+09:00"),
      ],
      context("Asia/Tokyo"),
    );
    expect(shown(out)).toEqual(["2011-12-01/2012-01-01 2/31 day"]);
  });

  it("caps the units at a basis of 30: a whole 31-day December is 30/30", () => {
    const out = calendarDay(
      [piece("2011-12-01T00:00:00+09:00", "2012-01-01T00:00:00+09:00")],
      context("Asia/Tokyo", 1, 30),
    );
    expect(shown(out)).toEqual(["2011-12-01/2012-01-01 30/30 day"]);
  });

  it("never suspends a date the zone skipped: Apia's 2011-12-30 counts in the basis, not in the units", () => {
    // Samoa moved across the date line: 2011-12-29 23:59:59 (−10:00) was followed by 2011-12-31 00:00 (+14:00).
    // A window from the 29th noon to the 31st noon touches the 29th and the 31st: 2 days of December's 31.
    const out = calendarDay([piece("2011-12-29T12:00:00-10:00", "2011-12-31T12:00:00+14:00")], context("Pacific/Apia"));
    expect(shown(out)).toEqual(["2011-12-01/2012-01-01 2/31 day"]);
  });

  it("property: the units over all periods are the distinct days touched, each period's within its basis", () => {
    // In UTC a local day is floor(t / 86,400); pieces are sorted and disjoint, as E's are.
    const pieces = disjointPieces("2011-01-01T00:00:00Z", "2011-07-01T00:00:00Z", 45 * 86_400);
    fc.assert(
      fc.property(pieces, fc.integer({ min: 1, max: 31 }), (ps, billingDay) => {
        const out = calendarDay(ps, context("UTC", billingDay));
        const touched = new Set<number>();
        for (const p of ps)
          for (let d = Math.floor(p.start / 86_400); d <= Math.floor((p.end - 1) / 86_400); d++) touched.add(d);
        expect(out.reduce((sum, p) => sum + p.units, 0)).toBe(touched.size);
        for (const p of out) {
          expect(p.basis).toBe(p.period.end - p.period.start);
          expect(p.units).toBeGreaterThan(0);
          expect(p.units).toBeLessThanOrEqual(p.basis);
        }
      }),
    );
  });
});
