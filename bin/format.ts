/** A whole number for people: 1,234,567 (exact for BigInt and decimal strings). */
export const n = (x: number | string | bigint) => BigInt(x).toLocaleString("en-US");

/** One row of totals per service and currency, as every command prints it. */
export function totalRow(t: {
  serviceCode: string | null;
  currency: string;
  lines: number;
  amount: string | bigint;
}): string {
  return `${(t.serviceCode ?? "goodwill").padEnd(12)} ${t.currency}  ${n(t.lines).padStart(10)} lines  ${n(t.amount).padStart(14)}`;
}
