import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseInstant, parseTimestamp, timestampAt } from "../../../shared/time/timestamp";

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

describe("timestampAt (the byte reading of the fast engine)", () => {
  const read = (text: string) => {
    const bytes = new TextEncoder().encode(`,${text},`);
    const date = { day: Number.NaN };
    const instant = timestampAt(bytes, 1, bytes.length - 1, date);
    return { instant, day: date.day };
  };
  const agrees = (text: string) => {
    const parsed = parseTimestamp(text);
    const { instant, day } = read(text);
    if (!parsed.ok) expect([text, instant, day]).toEqual([text, Number.NaN, Number.NaN]);
    else if (parsed.value.kind === "date") expect([text, instant, day]).toEqual([text, Number.NaN, parsed.value.day]);
    else expect([text, instant, day]).toEqual([text, parsed.value.epochSeconds, Number.NaN]);
  };
  const BASES = ["2011-12-22T14:00:00+09:00", "2011-12-22T14:00:00Z", "2011-12-22", "2012-02-29T23:59:59-05:30"];

  it("accepts exactly what parseTimestamp accepts, with the same value: every one-character change of four forms", () => {
    const chars = [..."0123456789", "-", ":", "T", "Z", "+", "z", " ", "t", "/"];
    for (const base of BASES) {
      for (let at = 0; at <= base.length; at++) {
        agrees(base.slice(0, at) + base.slice(at + 1)); // one character dropped
        for (const c of chars) {
          agrees(base.slice(0, at) + c + base.slice(at + 1)); // replaced
          agrees(base.slice(0, at) + c + base.slice(at)); // inserted
        }
      }
    }
  });

  it("accepts exactly what parseTimestamp accepts, with the same value: random text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 26 }), agrees), { numRuns: 2000 });
  });
});
