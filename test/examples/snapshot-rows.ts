import { Temporal } from "temporal-polyfill";
import type { RefundLine } from "../../shared/engine/refund-line";

/** One row of an example snapshot, by column name (the examples' CSVs have no quoted cells). */
export type SnapshotRow = Record<string, string>;

/** The rows of an example's subscriptions.csv, read plainly (not by the engine), to check its output against. */
export function snapshotRows(csv: string): SnapshotRow[] {
  const [header, ...records] = csv.trimEnd().split("\n");
  const columns = (header as string).split(",");
  return records.map((r) => Object.fromEntries(r.split(",").map((cell, i) => [columns[i], cell])));
}

/** An `active_from`/`active_to` value as epoch milliseconds: a date is local midnight in the row's zone. */
function instantOf(value: string, zone: string): number {
  return value.length === 10
    ? Temporal.PlainDate.from(value).toZonedDateTime({ timeZone: zone }).epochMilliseconds
    : Date.parse(value);
}

/** Whether the row is active for a positive length inside [start, end) (both instants with an offset). */
export function activeIn(row: SnapshotRow, incidentZone: string, start: string, end: string): boolean {
  const zone = row.time_zone || incidentZone;
  const from = instantOf(row.active_from as string, zone);
  const to = row.active_to ? instantOf(row.active_to, zone) : Number.POSITIVE_INFINITY;
  return Math.max(from, Date.parse(start)) < Math.min(to, Date.parse(end));
}

/** A subscriber's lines as the examples' READMEs show them: whose, which period, how much. */
export function linesOfSubscriber(lines: readonly RefundLine[], subscriber: string) {
  return lines
    .filter((l) => l.subscriberId === subscriber)
    .map((l) => [l.subscriptionId, l.periodStart, l.unit, l.units, l.basis, Number(l.amount)]);
}
