import type { Interval } from "../interval/interval-set";
import { billingPeriodContaining } from "../time/billing-period";
import { PeriodTally, type PeriodUnits } from "./period-units";
import { type RuleContext, THIRTY_DAYS_SECONDS } from "./rule";

/**
 * `exact`: seconds of suspension inside each billing period, where the period runs from local midnight of its
 * first day to local midnight of the next period's first day (so DST days count 23 or 25 hours).
 * NOTE: units(P) = |E ∩ [midnight(P.start), midnight(P.end))| in seconds; basis = that period's length in
 * seconds ("actual") or 2,592,000 (30 days).
 */
export function exact(pieces: readonly Interval[], { clock, billingDay, dayBasis }: RuleContext): PeriodUnits[] {
  const tally = new PeriodTally();
  for (const piece of pieces) {
    let period = billingPeriodContaining(clock.localDay(piece.start), billingDay);
    for (;;) {
      const periodEnd = clock.startOfDay(period.end);
      const overlap = Math.min(piece.end, periodEnd) - Math.max(piece.start, clock.startOfDay(period.start));
      if (overlap > 0) tally.add(period, overlap);
      if (piece.end <= periodEnd) break;
      period = billingPeriodContaining(period.end, billingDay);
    }
  }
  return tally.finish("second", (p) =>
    dayBasis === 30 ? THIRTY_DAYS_SECONDS : clock.startOfDay(p.end) - clock.startOfDay(p.start),
  );
}
