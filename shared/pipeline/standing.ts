import { type RunRecord, SHARDS, type TotalLine } from "../store/refund-store";

/**
 * The runs that could have written lines: not dry runs, not runs only requested, nor runs that failed before prepare
 * recorded them running (the API records a run with no snapshot digest, which prepare fills in before anything is
 * written: a snapshot refused, an incident locked by another run).
 */
export const writingRuns = (runs: readonly RunRecord[]) =>
  runs.filter((r) => !r.dryRun && r.status !== "requested" && r.snapshotDigest !== "");

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

/**
 * How many lines each shard of the incident holds before a run, when that is known for sure from the other runs
 * (`earlier`, without the run itself): none if no run ever wrote; else the count the last of them recorded
 * (`RunRecord.stored`), provided every run that could have written completed, and the last to start is the last to
 * complete. A run that failed, was interrupted, abandoned or is running may have written lines no count holds; and
 * a run started later than the one that completed last (a run whose completion landed after a later run's, having
 * lost its lock, or a clock set back) may have written lines that count lacks: then undefined, and finalize reads
 * each shard's index as it must without it (docs/data-model.md, "The count of stored lines").
 */
export function storedAtStart(earlier: readonly RunRecord[]): number[] | undefined {
  const writers = writingRuns(earlier);
  if (writers.length === 0) return new Array<number>(SHARDS).fill(0);
  if (writers.some((r) => r.status !== "completed")) return undefined;
  const lastBy = (key: "startedAt" | "completedAt") =>
    [...writers].sort((a, b) => (a[key] ?? "").localeCompare(b[key] ?? "")).at(-1);
  const last = lastBy("completedAt");
  if (last !== lastBy("startedAt")) return undefined;
  const stored = last?.stored;
  const counts = stored?.length === SHARDS && stored.every((n) => Number.isSafeInteger(n) && n >= 0);
  return counts ? [...stored] : undefined;
}
