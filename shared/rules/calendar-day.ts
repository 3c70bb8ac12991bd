import type { Interval } from "../interval/interval-set";
import { billingPeriodContaining } from "../time/billing-period";
import { PeriodTally, type PeriodUnits } from "./period-units";
import type { RuleContext } from "./rule";

/**
 * `calendar-day`: a local calendar day counts when the suspension overlaps it for a positive length; each
 * counted day belongs to the billing period that contains it.
 * NOTE: a piece [s, e) of whole seconds overlaps local day D exactly when localDay(s) ≤ D ≤ localDay(e − 1 s)
 * and D lasts a positive time; units(P) = number of such days in P; basis = days in P ("actual") or 30.
 * A day can last no time at all where a zone skips a whole date (Pacific/Apia skipped 2011-12-30): it counts
 * in the days of its period but is never suspended. Only days strictly inside a piece need that check: the
 * first and last hold an instant of the piece, so they have length.
 */
export function calendarDay(pieces: readonly Interval[], { clock, billingDay, dayBasis }: RuleContext): PeriodUnits[] {
  const tally = new PeriodTally();
  let lastCounted = Number.NEGATIVE_INFINITY; // pieces are sorted: a day shared by two pieces counts once
  for (const piece of pieces) {
    const first = clock.localDay(piece.start);
    const last = clock.localDay(piece.end - 1);
    let day = Math.max(first, lastCounted + 1);
    while (day <= last) {
      const period = billingPeriodContaining(day, billingDay);
      const upTo = Math.min(last + 1, period.end);
      let days = upTo - day;
      for (let d = Math.max(day, first + 1); d < Math.min(upTo, last); d++) {
        if (clock.startOfDay(d + 1) === clock.startOfDay(d)) days--;
      }
      tally.add(period, days);
      day = upTo;
    }
    lastCounted = Math.max(lastCounted, last);
  }
  return tally.finish("day", (p) => (dayBasis === 30 ? 30 : p.end - p.start));
}
