import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { civilDate, dayNumber, daysInMonth, formatDay } from "../../../shared/time/civil-date";

describe("civil dates", () => {
  it("numbers days from 1970-01-01", () => {
    expect(dayNumber(1970, 1, 1)).toBe(0);
    expect(dayNumber(2011, 12, 20)).toBe(15328);
    expect(dayNumber(1969, 12, 31)).toBe(-1);
    expect(formatDay(dayNumber(2000, 2, 29))).toBe("2000-02-29");
  });

  it("knows February: 29 days in 2012 and 2000, 28 in 2011 and 1900", () => {
    expect([2012, 2000, 2011, 1900].map((y) => daysInMonth(y, 2))).toEqual([29, 29, 28, 28]);
  });

  it("agrees with Date.UTC and round-trips (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: -200_000, max: 200_000 }), (days) => {
        const { year, month, day } = civilDate(days);
        expect(dayNumber(year, month, day)).toBe(days);
        expect(Date.UTC(year, month - 1, day) / 86_400_000).toBe(days);
      }),
    );
  });
});
