import type { RuleName } from "../input/incident";
import { calendarDay } from "./calendar-day";
import { exact } from "./exact";
import { full24h } from "./full-24h";
import type { Rule } from "./rule";

/** The rule an incident's policy names. */
export const RULE_BY_NAME: Record<RuleName, Rule> = {
  "calendar-day": calendarDay,
  "full-24h": full24h,
  exact,
};
