import { describe, expect, it } from "vitest";
import { dayNumber } from "../../../shared/time/civil-date";
import { resolveTimeZone } from "../../../shared/time/time-zone";
import { zonedClock } from "../../../shared/time/zoned-clock";

describe("resolveTimeZone", () => {
  it("admits tz database names in any case, links included", () => {
    expect(resolveTimeZone("Asia/Tokyo")).toBe("Asia/Tokyo");
    expect(resolveTimeZone("asia/tokyo")).toBe("Asia/Tokyo");
    expect(resolveTimeZone("Japan")).toBe("Japan");
    expect(resolveTimeZone("utc")).toBe("UTC");
  });

  it("refuses offsets and names only ICU knows", () => {
    for (const name of ["+09:00", "JST", "PST", "IST", "Nowhere/City", ""])
      expect(resolveTimeZone(name)).toBeUndefined();
  });
});

describe("zonedClock", () => {
  it("starts a day when the clock resumes where a transition skips midnight (America/Sao_Paulo 2018-11-04)", () => {
    // At 00:00 local the clock jumped to 01:00 (-02:00): the day starts at 03:00 UTC
    expect(zonedClock("America/Sao_Paulo").startOfDay(dayNumber(2018, 11, 4))).toBe(Date.UTC(2018, 10, 4, 3) / 1000);
  });

  it("finds the local date of an instant", () => {
    const clock = zonedClock("Asia/Tokyo");
    expect(clock.localDay(Date.UTC(2011, 11, 20, 15) / 1000)).toBe(dayNumber(2011, 12, 21)); // 00:00 JST
    expect(clock.localDay(Date.UTC(2011, 11, 20, 14, 59, 59) / 1000)).toBe(dayNumber(2011, 12, 20));
  });
});
