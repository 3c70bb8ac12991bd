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
