import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DayBasis } from "../../../shared/input/incident";
import { full24h } from "../../../shared/rules/full-24h";
import { billingPeriodContaining } from "../../../shared/time/billing-period";
import { context, disjointPieces, piece, shown } from "../../helpers/rule-context";

// Contract, computation step 2 (`full-24h`): for each maximal continuous piece [s, e) of E, k = floor((e − s) /
// 24 h) blocks; block j starts at s + 24 h·j and belongs to the period containing the local date of its start.

describe("full24h", () => {
  it("gives the sp-mode window one block: 38 h 30 min is one whole 24 hours", () => {
    // 2011-12-20 23:30 → 2011-12-22 14:00 is 38.5 h: k = floor(38.5 / 24) = 1, starting the 20th (December, 31 days).
    const out = full24h([piece("2011-12-20T23:30:00+09:00", "2011-12-22T14:00:00+09:00")], context("Asia/Tokyo"));
    expect(shown(out)).toEqual(["2011-12-01/2012-01-01 1/31 day"]);
  });

  it("counts nothing for a piece one second short of 24 hours, nor for two short pieces with a gap", () => {
    expect(full24h([piece("2011-12-20T00:00:00Z", "2011-12-20T23:59:59Z")], context("UTC"))).toEqual([]);
    // 20 h + 20 h with an hour between: two pieces, neither 24 h (the rule never joins pieces).
    const twoShort = [
      piece("2011-12-20T00:00:00Z", "2011-12-20T20:00:00Z"),
      piece("2011-12-20T21:00:00Z", "2011-12-21T17:00:00Z"),
    ];
    expect(full24h(twoShort, context("UTC"))).toEqual([]);
  });

  it("puts each block in the period of its start's local date: billing day 21 splits 48 h 30 min 1/30 + 1/31", () => {
    // 2011-12-20 23:30 → 2011-12-23 00:00 is 48.5 h: k = 2. Block 0 starts the 20th 23:30 (period 2011-11-21..
    // 2011-12-21, 30 days), block 1 the 21st 23:30 (period 2011-12-21..2012-01-21, 31 days).
    const out = full24h([piece("2011-12-20T23:30:00+09:00", "2011-12-23T00:00:00+09:00")], context("Asia/Tokyo", 21));
    expect(shown(out)).toEqual(["2011-11-21/2011-12-21 1/30 day", "2011-12-21/2012-01-21 1/31 day"]);
  });

  it("dates a block in the row's zone: a block starting 2011-11-30 20:00 UTC is December's in Tokyo", () => {
    // 20:00 UTC on 2011-11-30 is 05:00 on 2011-12-01 in Tokyo (+09:00).
    const block = [piece("2011-11-30T20:00:00Z", "2011-12-01T20:00:00Z")];
    expect(shown(full24h(block, context("UTC")))).toEqual(["2011-11-01/2011-12-01 1/30 day"]);
    expect(shown(full24h(block, context("Asia/Tokyo")))).toEqual(["2011-12-01/2012-01-01 1/31 day"]);
  });

  it("caps at the basis: 31 blocks in one December are 30/30 with a day basis of 30", () => {
    const out = full24h(
      [piece("2011-12-01T00:00:00+09:00", "2012-01-01T00:00:00+09:00")],
      context("Asia/Tokyo", 1, 30),
    );
    expect(shown(out)).toEqual(["2011-12-01/2012-01-01 30/30 day"]);
  });

  it("property: each period holds the blocks that start in it (UTC dates), capped at its basis", () => {
    const pieces = disjointPieces("2011-01-01T00:00:00Z", "2011-04-01T00:00:00Z", 45 * 86_400);
    fc.assert(
      fc.property(
        pieces,
        fc.integer({ min: 1, max: 31 }),
        fc.constantFrom<DayBasis>("actual", 30),
        (ps, day, basis) => {
          // Expected, block by block: in UTC a block starting at t falls on day floor(t / 86,400).
          const byPeriod = new Map<number, number>();
          for (const p of ps)
            for (let t = p.start; t + 86_400 <= p.end; t += 86_400) {
              const period = billingPeriodContaining(Math.floor(t / 86_400), day);
              byPeriod.set(period.start, (byPeriod.get(period.start) ?? 0) + 1);
            }
          const out = full24h(ps, context("UTC", day, basis));
          expect(out.map((p) => p.period.start)).toEqual([...byPeriod.keys()].sort((a, b) => a - b));
          for (const p of out) {
            const b = basis === 30 ? 30 : p.period.end - p.period.start;
            expect([p.units, p.basis]).toEqual([Math.min(byPeriod.get(p.period.start) as number, b), b]);
          }
        },
      ),
    );
  });
});
