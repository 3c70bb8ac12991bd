import type { Interval } from "../interval/interval-set";
import { billingPeriodContaining } from "../time/billing-period";
import { PeriodTally, type PeriodUnits } from "./period-units";
import type { RuleContext } from "./rule";

/**
 * `calendar-day`: a local calendar day counts when the suspension overlaps it for a positive length; each
 * counted day belongs to the billing period that contains it.
 * NOTE: a piece [s, e) of whole seconds overlaps local day D exactly when localDay(s) ≤ D ≤ localDay(e − 1 s);
 * units(P) = number of such days in P; basis = days in P ("actual") or 30.
 */
export function calendarDay(pieces: readonly Interval[], { clock, billingDay, dayBasis }: RuleContext): PeriodUnits[] {
  const tally = new PeriodTally();
  let lastCounted = Number.NEGATIVE_INFINITY; // pieces are sorted: a day shared by two pieces counts once
  for (const piece of pieces) {
    const last = clock.localDay(piece.end - 1);
    let day = Math.max(clock.localDay(piece.start), lastCounted + 1);
    while (day <= last) {
      const period = billingPeriodContaining(day, billingDay);
      const upTo = Math.min(last + 1, period.end);
      tally.add(period, upTo - day);
      day = upTo;
    }
    lastCounted = Math.max(lastCounted, last);
  }
  return tally.finish("day", (p) => (dayBasis === 30 ? 30 : p.end - p.start));
}
