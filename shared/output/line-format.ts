import { LINE_FIELDS, type RefundLine } from "../engine/refund-line";

const json = (v: string | null) => (v === null ? "null" : JSON.stringify(v));

/**
 * One JSON line with the ten fields in the contract's order. Written by hand rather than JSON.stringify because
 * amounts are BigInt: they are printed as exact JSON integers, however large.
 */
export function toJsonLine(l: RefundLine): string {
  return `{"subscriptionId":${json(l.subscriptionId)},"subscriberId":${json(l.subscriberId)},"serviceCode":${json(l.serviceCode)},"periodStart":${json(l.periodStart)},"periodEnd":${json(l.periodEnd)},"unit":"${l.unit}","units":${l.units},"basis":${l.basis},"amount":${l.amount},"currency":${json(l.currency)}}\n`;
}

/** An RFC 4180 cell: quoted when it holds a comma, quote or line break; null is an empty cell. */
export function csvCell(v: string | number | bigint | null): string {
  if (v === null) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * A CSV cell safe to open in a spreadsheet: a value that starts with = + - @ or a tab would be read by Excel as a
 * formula (CSV injection, OWASP), so it is prefixed with ' and shown as text. For reports people open; the
 * machine formats (`hiwari compute --format csv`) keep values as they are.
 */
export function spreadsheetCell(v: string | number | null): string {
  const s = v === null ? "" : String(v);
  return csvCell(/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);
}

/** The CSV header row: the ten fields as columns. */
export const CSV_HEADER = `${LINE_FIELDS.join(",")}\r\n`;

/** One CSV row (CRLF, as RFC 4180 has it). */
export function toCsvRow(l: RefundLine): string {
  return `${LINE_FIELDS.map((f) => csvCell(l[f])).join(",")}\r\n`;
}
