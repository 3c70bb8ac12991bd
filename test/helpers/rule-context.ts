import fc from "fast-check";
import type { DayBasis } from "../../shared/input/incident";
import type { Interval } from "../../shared/interval/interval-set";
import type { PeriodUnits } from "../../shared/rules/period-units";
import type { RuleContext } from "../../shared/rules/rule";
import { formatDay } from "../../shared/time/civil-date";
import { zonedClock } from "../../shared/time/zoned-clock";

/** Epoch seconds of an instant written as the contract writes them. */
export const at = (instant: string) => Date.parse(instant) / 1000;

/** A suspended piece `[start, end)`. */
export const piece = (start: string, end: string): Interval => ({ start: at(start), end: at(end) });

/** What a rule needs besides the pieces: the zone, the billing day (1 unless given), the day basis ("actual"). */
export const context = (zone: string, billingDay = 1, dayBasis: DayBasis = "actual"): RuleContext => ({
  clock: zonedClock(zone),
  billingDay,
  dayBasis,
});

/** A rule's output as it reads in the contract: `2011-12-01/2012-01-01 3/31 day`. */
export const shown = (out: PeriodUnits[]) =>
  out.map((p) => `${formatDay(p.period.start)}/${formatDay(p.period.end)} ${p.units}/${p.basis} ${p.unit}`);

/**
 * Sorted, disjoint pieces (as E's are) between `from` and `to`, from 1 to 4 of them, each at most `longest` seconds
 * when given (long enough to span periods, short enough to keep a property fast).
 */
export const disjointPieces = (from: string, to: string, longest?: number) =>
  fc.uniqueArray(fc.integer({ min: at(from), max: at(to) }), { minLength: 2, maxLength: 8 }).map((cuts) => {
    const sorted = [...cuts].sort((a, b) => a - b);
    const out: Interval[] = [];
    for (let i = 0; i + 1 < sorted.length; i += 2) {
      const start = sorted[i] as number;
      const end = sorted[i + 1] as number;
      out.push({ start, end: longest === undefined ? end : Math.min(end, start + longest) });
    }
    return out;
  });
