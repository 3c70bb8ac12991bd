import type { RunRecord, TotalLine } from "../store/refund-store";

/** The runs that could have written lines: not dry runs, not runs only requested. */
export const writingRuns = (runs: readonly RunRecord[]) => runs.filter((r) => !r.dryRun && r.status !== "requested");

/**
 * What an incident's standing lines are the outcome of: its last completed run that wrote (every run reconciles
 * the whole incident, and the totals it records are of every standing line), and the writing runs started after
 * it that did not complete (failed, running, interrupted, abandoned: they may have changed lines, which then stand
 * without totals; the report has the exact lines), in the order they started. `hiwari report` and the console
 * both say so.
 */
export function standingOf(runs: readonly RunRecord[]): {
  totals: TotalLine[];
  asOf?: RunRecord;
  unsettled: RunRecord[];
} {
  const writers = [...writingRuns(runs)].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const asOf = writers
    .filter((r) => r.status === "completed")
    .sort((a, b) => (a.completedAt ?? "").localeCompare(b.completedAt ?? ""))
    .at(-1);
  const unsettled = writers.filter((r) => r.status !== "completed" && (!asOf || r.startedAt > asOf.startedAt));
  return { totals: asOf?.totals ?? [], ...(asOf ? { asOf } : {}), unsettled };
}
