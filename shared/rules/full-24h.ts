import type { Interval } from "../interval/interval-set";
import { billingPeriodContaining } from "../time/billing-period";
import { PeriodTally, type PeriodUnits } from "./period-units";
import type { RuleContext } from "./rule";

const DAY = 86_400;

/**
 * `full-24h` (Japanese telecom terms): only unavailability of 24 hours or more in a row counts, in whole
 * 24-hour blocks.
 * NOTE: for each maximal piece [s, e): k = floor((e − s) / 24 h); block j starts at s + 24 h·j and belongs to
 * the billing period containing the local date of its start; basis = days in P ("actual") or 30.
 */
export function full24h(pieces: readonly Interval[], { clock, billingDay, dayBasis }: RuleContext): PeriodUnits[] {
  const tally = new PeriodTally();
  for (const piece of pieces) {
    const blocks = Math.floor((piece.end - piece.start) / DAY);
    for (let j = 0; j < blocks; j++) {
      tally.add(billingPeriodContaining(clock.localDay(piece.start + DAY * j), billingDay), 1);
    }
  }
  return tally.finish("day", (p) => (dayBasis === 30 ? 30 : p.end - p.start));
}
