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
