import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dayNumber } from "../../../shared/time/civil-date";
import { zonedClock } from "../../../shared/time/zoned-clock";

const at = (instant: string) => Date.parse(instant) / 1000;

describe("zonedClock", () => {
  it("dates an instant in its zone: 2011-12-20 23:30 in Tokyo is 14:30 UTC the same day, 2011-12-21 00:30 a day on", () => {
    const tokyo = zonedClock("Asia/Tokyo");
    expect(tokyo.localDay(at("2011-12-20T23:30:00+09:00"))).toBe(dayNumber(2011, 12, 20));
    expect(tokyo.localDay(at("2011-12-21T00:30:00+09:00"))).toBe(dayNumber(2011, 12, 21));
    // 2011-12-20 15:30Z is 2011-12-21 00:30 in Tokyo but still the 20th in UTC
    expect(zonedClock("UTC").localDay(at("2011-12-20T15:30:00Z"))).toBe(dayNumber(2011, 12, 20));
  });

  it("starts a local date at its midnight in the zone: Tokyo's 2011-12-21 is 2011-12-20 15:00 UTC", () => {
    expect(zonedClock("Asia/Tokyo").startOfDay(dayNumber(2011, 12, 21))).toBe(at("2011-12-20T15:00:00Z"));
  });

  it("starts a day when the clock resumes where a transition skips midnight (São Paulo, 2018-11-04 00:00 → 01:00)", () => {
    // Brazil's DST began at midnight: the 4th started at 01:00 −02:00, i.e. 03:00 UTC; the day was 23 hours long.
    const saoPaulo = zonedClock("America/Sao_Paulo");
    const fourth = dayNumber(2018, 11, 4);
    expect(saoPaulo.startOfDay(fourth)).toBe(at("2018-11-04T03:00:00Z"));
    expect(saoPaulo.startOfDay(fourth + 1) - saoPaulo.startOfDay(fourth)).toBe(23 * 3600);
  });

  it("gives a skipped date no length: Apia's 2011-12-30 starts when the 31st does", () => {
    const apia = zonedClock("Pacific/Apia");
    const thirtieth = dayNumber(2011, 12, 30);
    expect(apia.startOfDay(thirtieth)).toBe(apia.startOfDay(thirtieth + 1));
    expect(apia.localDay(at("2011-12-29T23:59:59-10:00")) + 2).toBe(apia.localDay(at("2011-12-31T00:00:00+14:00")));
  });

  it("is one clock per zone, answering the same question the same way (memoised)", () => {
    expect(zonedClock("Asia/Tokyo")).toBe(zonedClock("Asia/Tokyo"));
    const t = at("2011-12-20T23:30:00+09:00");
    expect(zonedClock("Asia/Tokyo").localDay(t)).toBe(zonedClock("Asia/Tokyo").localDay(t));
  });

  it("property: a day's first instant falls on that day and the instant before it on the day before", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: dayNumber(1990, 1, 1), max: dayNumber(2037, 12, 31) }),
        fc.constantFrom("UTC", "Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Lord_Howe"),
        (day, zone) => {
          const clock = zonedClock(zone);
          const start = clock.startOfDay(day);
          expect(clock.localDay(start)).toBe(day);
          expect(clock.localDay(start - 1)).toBe(day - 1);
          if (zone === "UTC") expect(start).toBe(day * 86_400);
        },
      ),
    );
  });
});
