import { createHash } from "node:crypto";
import type { Duplicates } from "../engine/fast/plain-rows";
import type { Incident } from "../input/incident";

/** What every step of a run knows: the incident, the run's id, and how the run was asked for. */
export interface RunContext {
  incident: Incident;
  runId: string;
  dryRun: boolean;
  /** No run of this incident was ever recorded: nothing is stored, so batches need not read before writing. */
  fresh: boolean;
  /**
   * How many lines each shard held when the run started, when known for sure (`storedAtStart`; all 0 on a fresh
   * run): finalize then reads a shard's index only if some line there is not one the run produced.
   */
  stored?: readonly number[];
  /** Subscription ids that occur more than once in the snapshot (found by prepare's pass over it; `duplicatesOf`). */
  duplicates: Duplicates;
}

export function sha256(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * A run's id, derived from the incident and the client's idempotency key (finance's request id): a retried
 * request finds its run instead of starting another. Step Functions execution names take it as it is.
 */
export function runIdOf(incidentId: string, requestId: string): string {
  return `run-${sha256(`${incidentId}\n${requestId}`).slice(0, 20)}`;
}
