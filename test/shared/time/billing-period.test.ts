import { describe, expect, it } from "vitest";
import { billingPeriodContaining } from "../../../shared/time/billing-period";
import { dayNumber, formatDay } from "../../../shared/time/civil-date";

const period = (date: string, billingDay: number) => {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  const p = billingPeriodContaining(dayNumber(y, m, d), billingDay);
  return `${formatDay(p.start)}..${formatDay(p.end)}`;
};

describe("billingPeriodContaining", () => {
  it("runs from the billing day of one month to the next", () => {
    expect(period("2011-12-20", 1)).toBe("2011-12-01..2012-01-01");
    expect(period("2011-12-14", 15)).toBe("2011-11-15..2011-12-15");
    expect(period("2011-12-15", 15)).toBe("2011-12-15..2012-01-15");
  });

  it("clamps billing day 31: Jan 31 → Feb 28 → Mar 31 → Apr 30", () => {
    expect(period("2011-02-27", 31)).toBe("2011-01-31..2011-02-28");
    expect(period("2011-02-28", 31)).toBe("2011-02-28..2011-03-31");
    expect(period("2011-03-30", 31)).toBe("2011-02-28..2011-03-31");
    expect(period("2011-04-15", 31)).toBe("2011-03-31..2011-04-30");
    expect(period("2012-02-29", 31)).toBe("2012-02-29..2012-03-31");
  });

  it("clamps billing days 29 and 30 in February", () => {
    expect(period("2011-02-28", 29)).toBe("2011-02-28..2011-03-29");
    expect(period("2012-02-28", 29)).toBe("2012-01-29..2012-02-29");
    expect(period("2012-02-29", 30)).toBe("2012-02-29..2012-03-30");
  });

  it("crosses the year boundary", () => {
    expect(period("2012-01-10", 20)).toBe("2011-12-20..2012-01-20");
  });
});
