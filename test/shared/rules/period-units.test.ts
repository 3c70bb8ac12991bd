import { describe, expect, it } from "vitest";
import { PeriodTally } from "../../../shared/rules/period-units";
import { dayNumber } from "../../../shared/time/civil-date";

const december = { start: dayNumber(2011, 12, 1), end: dayNumber(2012, 1, 1) };
const november = { start: dayNumber(2011, 11, 1), end: dayNumber(2011, 12, 1) };
const days = (p: { start: number; end: number }) => p.end - p.start;

describe("PeriodTally", () => {
  it("adds the units of one period together and lists the periods in date order", () => {
    // Prepare
    const tally = new PeriodTally();

    // Act: December 2 + 1, then November 4
    tally.add(december, 2);
    tally.add(november, 4);
    tally.add({ ...december }, 1); // the same period, another object: keyed by its first day

    // Assess
    expect(tally.finish("day", days)).toEqual([
      { period: november, unit: "day", units: 4, basis: 30 },
      { period: december, unit: "day", units: 3, basis: 31 },
    ]);
  });

  it("caps each period's units at its basis, and leaves out periods with no units", () => {
    const tally = new PeriodTally();
    tally.add(december, 31);
    tally.add(november, 0);
    expect(tally.finish("day", () => 30)).toEqual([{ period: december, unit: "day", units: 30, basis: 30 }]);
  });
});
