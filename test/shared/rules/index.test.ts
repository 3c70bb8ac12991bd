import { describe, expect, it } from "vitest";
import { RULES } from "../../../shared/input/incident";
import { calendarDay } from "../../../shared/rules/calendar-day";
import { exact } from "../../../shared/rules/exact";
import { full24h } from "../../../shared/rules/full-24h";
import { RULE_BY_NAME } from "../../../shared/rules/index";

describe("RULE_BY_NAME", () => {
  it("maps each rule an incident may name to its function, and no other", () => {
    expect(Object.keys(RULE_BY_NAME).sort()).toEqual([...RULES].sort());
    expect(RULE_BY_NAME["calendar-day"]).toBe(calendarDay);
    expect(RULE_BY_NAME["full-24h"]).toBe(full24h);
    expect(RULE_BY_NAME.exact).toBe(exact);
  });
});
