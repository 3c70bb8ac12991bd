import type { Incident } from "../input/incident";
import type { RecordedCounts, TotalLine } from "../store/refund-store";
import { type RefundStore, RequestMismatchError, type RunRecord } from "../store/refund-store";
import { runIdOf } from "./run-context";
import { storedAtStart } from "./standing";

export interface RunRequest {
  incident: Incident;
  incidentDigest: string;
  snapshotName: string;
  snapshotDigest: string;
  /** The client's idempotency key: the same request finds the same run. */
  requestId: string;
  requestedBy: string;
  reason: string;
  dryRun: boolean;
  batchSize: number;
}

export type Prepared =
  | { kind: "ready"; run: RunRecord; fresh: boolean; resumed: boolean; stored: number[] | undefined }
  | { kind: "already-completed"; run: RunRecord };

/** How long a run's lock holds without being renewed (each batch renews it). */
export const LOCK_LEASE_MS = 15 * 60 * 1000;

/**
 * Starts (or resumes) a run: takes the incident's lock (refused while another live run holds it), records the
 * run, and says whether anything can be stored for the incident yet. A request already completed is not run again.
 */
/**
 * What differs between a recorded run and a request under the same run id, or undefined: a retried request must
 * be the very same request (incident, snapshot, dry-run flag, batch size), or it would mix two runs' bookkeeping.
 * `sameSnapshot` says whether the snapshots are the same, as far as the caller can tell (by digest once the
 * run has read it, by pinned S3 version before).
 */
export function differingInput(
  existing: RunRecord,
  wanted: Pick<RunRecord, "incidentDigest" | "dryRun" | "batchSize">,
  sameSnapshot: boolean,
): string | undefined {
  if (existing.incidentDigest !== wanted.incidentDigest) return "incident";
  if (!sameSnapshot) return "snapshot";
  if (existing.dryRun !== wanted.dryRun) return "dry-run flag";
  if (existing.batchSize !== wanted.batchSize) return "batch size";
  return undefined;
}

export async function prepareRun(request: RunRequest, store: RefundStore, now = new Date()): Promise<Prepared> {
  const { incident } = request;
  const runId = runIdOf(incident.incidentId, request.requestId);
  const existing = await store.getRun(incident.incidentId, runId);
  // A run the API recorded as requested has not started: nothing of it is stored yet.
  const started = existing?.status === "requested" ? undefined : existing;
  if (existing) {
    const differs = differingInput(existing, request, !started || started.snapshotDigest === request.snapshotDigest);
    if (differs) throw new RequestMismatchError(runId, differs);
    if (existing.status === "completed") return { kind: "already-completed", run: existing };
  }
  await store.acquireLock(incident.incidentId, runId, LOCK_LEASE_MS);
  const earlier = (await store.listRuns(incident.incidentId)).filter((r) => r.runId !== runId);
  const run: RunRecord = {
    incidentId: incident.incidentId,
    runId,
    requestedBy: request.requestedBy,
    reason: request.reason,
    dryRun: request.dryRun,
    status: "running",
    startedAt: started?.startedAt ?? now.toISOString(),
    policy: { rule: incident.rule, dayBasis: incident.dayBasis, rounding: incident.rounding },
    incidentDigest: request.incidentDigest,
    snapshotDigest: request.snapshotDigest,
    snapshotName: request.snapshotName,
    batchSize: request.batchSize,
    // Recorded by the API with the request (an approved proposal's run): kept, for complete to settle it.
    ...(existing?.proposalId !== undefined ? { proposalId: existing.proposalId } : {}),
  };
  await store.putRun(run);
  // Fresh: no run ever wrote for this incident (dry runs write no line), so batches may skip reading.
  const fresh = !started && earlier.every((r) => r.dryRun);
  return { kind: "ready", run, fresh, resumed: started !== undefined, stored: storedAtStart(earlier) };
}

/**
 * Records the outcome (with the count of lines each shard holds now, when known: `stored`), emits `Refund Run
 * Completed` (through the stored change) and releases the lock.
 */
export async function completeRun(
  run: RunRecord,
  result: { counts: RecordedCounts; totals: TotalLine[]; stored?: number[] },
  store: RefundStore,
  now = new Date(),
): Promise<RunRecord> {
  const done: RunRecord = {
    ...run,
    status: "completed",
    completedAt: now.toISOString(),
    counts: result.counts,
    totals: result.totals,
    ...(result.stored && !run.dryRun ? { stored: result.stored } : {}),
  };
  await store.putRun(done);
  if (!run.dryRun) await store.writeRunCompleted(done);
  await store.releaseLock(run.incidentId, run.runId);
  return done;
}
