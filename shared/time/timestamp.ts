import { dayNumber, daysInMonth } from "./civil-date";

/**
 * The two written forms the contract accepts for points in time:
 * an instant `YYYY-MM-DDThh:mm:ss` followed by `Z` or `±hh:mm` (whole seconds), and a date `YYYY-MM-DD`.
 * Instants are kept as whole epoch seconds (a JS number: exact far beyond any real date).
 */
export type Timestamp = { kind: "instant"; epochSeconds: number } | { kind: "date"; day: number };

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:(Z)|([+-])(\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export const INSTANT_FORM = "YYYY-MM-DDThh:mm:ss followed by Z or ±hh:mm";

function checkDate(y: number, m: number, d: number): string | undefined {
  if (y < 1) return "has year 0000";
  if (m < 1 || m > 12) return `has month ${String(m).padStart(2, "0")}`;
  if (d < 1 || d > daysInMonth(y, m)) return `has day ${String(d).padStart(2, "0")}, which that month lacks`;
  return undefined;
}

/** Parses an instant in the contract's form to epoch seconds. */
export function parseInstant(text: string): ParseResult<number> {
  const m = INSTANT.exec(text);
  if (!m) return { ok: false, reason: `must be an instant ${INSTANT_FORM}` };
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const bad = checkDate(y, mo, d);
  if (bad) return { ok: false, reason: `is not a real date: ${bad}` };
  if (h > 23 || mi > 59 || s > 59)
    return { ok: false, reason: "is not a real time of day (hh 00–23, mm and ss 00–59)" };
  let offset = 0;
  if (!m[7]) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return { ok: false, reason: "has an offset out of range (±hh:mm, hh 00–23, mm 00–59)" };
    offset = (m[8] === "-" ? -1 : 1) * (oh * 3600 + om * 60);
  }
  return { ok: true, value: dayNumber(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset };
}

/** Parses a date `YYYY-MM-DD` or an instant. */
export function parseTimestamp(text: string): ParseResult<Timestamp> {
  const m = DATE.exec(text);
  if (m) {
    const [y, mo, d] = m.slice(1, 4).map(Number) as [number, number, number];
    const bad = checkDate(y, mo, d);
    if (bad) return { ok: false, reason: `is not a real date: ${bad}` };
    return { ok: true, value: { kind: "date", day: dayNumber(y, mo, d) } };
  }
  if (!text.includes("T")) return { ok: false, reason: `must be a date YYYY-MM-DD or an instant ${INSTANT_FORM}` };
  const instant = parseInstant(text);
  return instant.ok ? { ok: true, value: { kind: "instant", epochSeconds: instant.value } } : instant;
}

/** The value of `n` ASCII digits at `bytes[i …]`, or -1 if any is not a digit. */
function digitsAt(bytes: Uint8Array, i: number, n: number): number {
  let value = 0;
  for (let k = i; k < i + n; k++) {
    const d = (bytes[k] as number) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Day number of the date `YYYY-MM-DD` at `bytes[i …]`, or NaN when it is not one or not a real date. */
function dateAt(bytes: Uint8Array, i: number): number {
  const y = digitsAt(bytes, i, 4);
  const m = digitsAt(bytes, i + 5, 2);
  const d = digitsAt(bytes, i + 8, 2);
  if (y < 1 || m < 1 || m > 12 || d < 1 || bytes[i + 4] !== 45 || bytes[i + 7] !== 45) return Number.NaN;
  return d > daysInMonth(y, m) ? Number.NaN : dayNumber(y, m, d);
}

/**
 * The fast reading of a timestamp held as ASCII bytes `[start, end)`, for the engine's hot path: the same forms
 * and checks as `parseTimestamp`, without a string or a regular expression. Returns epoch seconds for an instant
 * and sets `dateOnly.day` (returning NaN) for a date; NaN with `dateOnly.day` NaN when the text is neither, the
 * caller then asks `parseTimestamp` for the reason.
 */
export function timestampAt(bytes: Uint8Array, start: number, end: number, dateOnly: { day: number }): number {
  dateOnly.day = Number.NaN;
  const length = end - start;
  if (length === 10) {
    dateOnly.day = dateAt(bytes, start);
    return Number.NaN;
  }
  if ((length !== 20 && length !== 25) || bytes[start + 10] !== 84 /* T */) return Number.NaN;
  const day = dateAt(bytes, start);
  const h = digitsAt(bytes, start + 11, 2);
  const mi = digitsAt(bytes, start + 14, 2);
  const s = digitsAt(bytes, start + 17, 2);
  if (Number.isNaN(day) || bytes[start + 13] !== 58 || bytes[start + 16] !== 58) return Number.NaN;
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return Number.NaN;
  let offset = 0;
  const sign = bytes[start + 19];
  if (length === 20) {
    if (sign !== 90 /* Z */) return Number.NaN;
  } else {
    const oh = digitsAt(bytes, start + 20, 2);
    const om = digitsAt(bytes, start + 23, 2);
    if ((sign !== 43 && sign !== 45) || bytes[start + 22] !== 58 || oh < 0 || oh > 23 || om < 0 || om > 59) {
      return Number.NaN;
    }
    offset = (sign === 45 ? -1 : 1) * (oh * 3600 + om * 60);
  }
  return day * 86400 + h * 3600 + mi * 60 + s - offset;
}
