import type { DayBasis } from "../input/incident";
import type { Interval } from "../interval/interval-set";
import type { ZonedClock } from "../time/zoned-clock";
import type { PeriodUnits } from "./period-units";

/** Everything a rule needs besides the suspended time: the row's zone, its billing day, and the day basis. */
export interface RuleContext {
  clock: ZonedClock;
  billingDay: number;
  dayBasis: DayBasis;
}

/**
 * A refund rule: from the suspended pieces `E` of one subscription (sorted, disjoint, maximal) to the units
 * per billing period.
 */
export type Rule = (pieces: readonly Interval[], context: RuleContext) => PeriodUnits[];

/** Seconds in the 30-day basis of the `exact` rule. */
export const THIRTY_DAYS_SECONDS = 30 * 86_400;
