import { describe, expect, it } from "vitest";
import { parseInstant, parseTimestamp } from "../../../shared/time/timestamp";

describe("timestamps", () => {
  it("reads instants with Z or an offset to epoch seconds", () => {
    expect(parseInstant("2011-12-22T14:00:00+09:00")).toEqual({ ok: true, value: Date.UTC(2011, 11, 22, 5) / 1000 });
    expect(parseInstant("2011-12-22T05:00:00Z")).toEqual({ ok: true, value: Date.UTC(2011, 11, 22, 5) / 1000 });
    expect(parseInstant("2011-12-22T00:00:00-05:30")).toEqual({
      ok: true,
      value: Date.UTC(2011, 11, 22, 5, 30) / 1000,
    });
  });

  it("reads dates as day numbers", () => {
    expect(parseTimestamp("2011-12-21")).toEqual({ ok: true, value: { kind: "date", day: 15329 } });
  });

  it.each([
    "2011-12-22 14:00:00+09:00",
    "2011-12-22T14:00+09:00",
    "2011-12-22T14:00:00.000Z",
    "2011-12-22T14:00:00+0900",
    "2011-12-22T14:00:00z",
    "2011-12-22T14:00:00",
  ])("refuses %j", (text) => {
    expect(parseInstant(text).ok).toBe(false);
  });

  it("refuses dates and times that do not exist", () => {
    expect(parseTimestamp("2011-02-29")).toEqual({
      ok: false,
      reason: "is not a real date: has day 29, which that month lacks",
    });
    expect(parseTimestamp("2011-13-01")).toEqual({ ok: false, reason: "is not a real date: has month 13" });
    expect(parseTimestamp("0000-01-01")).toEqual({ ok: false, reason: "is not a real date: has year 0000" });
    expect(parseInstant("2011-01-01T23:60:00Z").ok).toBe(false);
    expect(parseInstant("2011-01-01T00:00:00+24:00").ok).toBe(false);
  });
});
