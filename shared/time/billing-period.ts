import { civilDate, dayNumber, daysInMonth } from "./civil-date";

/** A billing period as local dates: `[start, end)` in day numbers; `end` is the next period's first day. */
export interface BillingPeriod {
  start: number;
  end: number;
}

/** The day of `month` on which a period starts: the billing day, clamped to the month's last day. */
function anchor(year: number, month: number, billingDay: number): number {
  return dayNumber(year, month, Math.min(billingDay, daysInMonth(year, month)));
}

/**
 * The billing period that contains a local date, for a billing day 1–31.
 * A period starts on the billing day of each month, clamped to the month's last day (31 → Feb 28/29 → Mar 31 →
 * Apr 30), and ends where the next one starts.
 */
export function billingPeriodContaining(day: number, billingDay: number): BillingPeriod {
  const { year, month } = civilDate(day);
  let start = anchor(year, month, billingDay);
  let y = year;
  let m = month;
  if (day < start) {
    m -= 1;
    if (m === 0) {
      m = 12;
      y -= 1;
    }
    start = anchor(y, m, billingDay);
  }
  const nextYear = m === 12 ? y + 1 : y;
  const nextMonth = m === 12 ? 1 : m + 1;
  return { start, end: anchor(nextYear, nextMonth, billingDay) };
}
