import { Temporal } from "temporal-polyfill";
import { civilDate, dayNumber } from "./civil-date";

/**
 * The two questions the rules ask of a time zone, answered by Temporal (no hand-written zone math):
 * which local date an instant falls on, and when a local date begins.
 * Both are memoised per zone: a run asks the same few questions for millions of rows.
 */
export interface ZonedClock {
  /** Day number of the local date on which the instant (epoch seconds) falls. */
  localDay(epochSeconds: number): number;
  /** Epoch seconds of the first instant of a local date ("local midnight"; where a transition skips midnight, when the clock resumes). */
  startOfDay(day: number): number;
}

const MEMO_LIMIT = 50_000;

class TemporalZonedClock implements ZonedClock {
  private readonly days = new Map<number, number>();
  private readonly starts = new Map<number, number>();

  constructor(private readonly zone: string) {}

  localDay(epochSeconds: number): number {
    let day = this.days.get(epochSeconds);
    if (day === undefined) {
      const z = Temporal.Instant.fromEpochMilliseconds(epochSeconds * 1000).toZonedDateTimeISO(this.zone);
      day = dayNumber(z.year, z.month, z.day);
      if (this.days.size >= MEMO_LIMIT) this.days.clear();
      this.days.set(epochSeconds, day);
    }
    return day;
  }

  startOfDay(day: number): number {
    let start = this.starts.get(day);
    if (start === undefined) {
      const { year, month, day: d } = civilDate(day);
      start = new Temporal.PlainDate(year, month, d).toZonedDateTime({ timeZone: this.zone }).epochMilliseconds / 1000;
      if (this.starts.size >= MEMO_LIMIT) this.starts.clear();
      this.starts.set(day, start);
    }
    return start;
  }
}

const clocks = new Map<string, ZonedClock>();

/** The clock of a zone (a tz database name already resolved by `resolveTimeZone`). */
export function zonedClock(zone: string): ZonedClock {
  let clock = clocks.get(zone);
  if (!clock) {
    clock = new TemporalZonedClock(zone);
    clocks.set(zone, clock);
  }
  return clock;
}
