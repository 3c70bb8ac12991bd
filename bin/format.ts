import type { RecordedCounts, RunRecord } from "../shared/store/refund-store";

/** A whole number for people: 1,234,567 (exact for BigInt and decimal strings). */
export const n = (x: number | string | bigint) => BigInt(x).toLocaleString("en-US");

/** Where every row of a run went: `rows 48,603 = computed 15,742 + skipped 32,861 + rejected 0`. */
export const accountingRow = (c: RecordedCounts) =>
  `rows ${n(c.rows)} = computed ${n(c.computed)} + skipped ${n(c.skipped)} + rejected ${n(c.rejected)}`;

/** One row of totals per service and currency, as every command prints it. */
export function totalRow(t: {
  serviceCode: string | null;
  currency: string;
  lines: number;
  amount: string | bigint;
}): string {
  return `${(t.serviceCode ?? "goodwill").padEnd(12)} ${t.currency}  ${n(t.lines).padStart(10)} lines  ${n(t.amount).padStart(14)}`;
}

/**
 * A run as `hiwari runs` and `hiwari api-runs` print it: when, which, status, who and why, what it changed, its
 * totals and error; with `detail`, also its snapshot, policy and end. Amounts are shown exactly.
 */
export function runSummary(r: RunRecord, detail = false): string {
  const c = r.counts;
  const lines = [
    `${r.startedAt}  ${r.runId}  ${r.status}${r.dryRun ? " (dry run)" : ""}  by ${r.requestedBy}: ${r.reason}`,
  ];
  if (detail) {
    lines.push(`    snapshot ${r.snapshotName}, batches of ${n(r.batchSize)} rows`);
    if (r.policy)
      lines.push(`    policy ${r.policy.rule}, day basis ${r.policy.dayBasis}, rounding ${r.policy.rounding}`);
    if (r.completedAt) lines.push(`    completed ${r.completedAt}`);
  }
  if (c) {
    lines.push(`    ${accountingRow(c)}`);
    lines.push(
      `    lines: new ${n(c.calculated)}, adjusted ${n(c.adjusted)}, voided ${n(c.voided)}, unchanged ${n(c.unchanged)}`,
    );
  }
  for (const t of r.totals ?? []) lines.push(`    ${totalRow(t)}`);
  if (r.error) lines.push(`    error: ${r.error}`);
  return `${lines.join("\n")}\n`;
}
