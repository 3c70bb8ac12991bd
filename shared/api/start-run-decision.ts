import type { Incident } from "../input/incident";
import { differingInput } from "../pipeline/prepare-run";
import { unapprovedRerunRefusal } from "../pipeline/rerun-policy";
import { runIdOf, sha256 } from "../pipeline/run-context";
import type { RunRecord } from "../store/refund-store";
import { type S3Location, SNAPSHOTS_PREFIX, s3Uri } from "./run-request";

/**
 * What start-run does with a run to start (a runs POST's, or an approved proposal's), decided from plain values.
 * The caller (`functions/start-run/start-requested-run.ts`) does the reads and writes the decision asks for, adds
 * what it learnt to the facts, and asks again, until the decision is an answer: refused, found, or start.
 */

/** A run to record and start: a runs POST's request, or an approved proposal's. */
export interface RunToStart {
  incidentId: string;
  /** The idempotency key: the client's request id, or the proposal's id. */
  requestId: string;
  /** The caller's IAM principal (the approver's, for a proposal). */
  requestedBy: string;
  reason: string;
  dryRun: boolean;
  batchSize: number;
  incident: Incident;
  /** The incident document as canonical JSON (`canonicalJson`): what the run digests and leaves among its files. */
  incidentText: string;
  /** The snapshot as asked for: pinned here to its version now (or its recorded one, on a retry) when not pinned. */
  snapshot: S3Location;
  /** The approved proposal this run applies: recorded on the run, for complete to settle it. */
  proposalId?: string;
}

/** The stage's settings the decision reads. */
export interface StartRules {
  /** The bucket finance puts snapshots in: the only one a run may read. */
  snapshotBucket: string;
  /** The stage's `requireProposalForReruns`: a rerun only through an approved proposal (off when absent). */
  requireProposalForReruns?: boolean;
}

/** What the caller has learnt so far; a key absent is not known yet (the decision asks for it). */
export interface StartFacts {
  /** When the request came: a new run's `startedAt`. */
  now: Date;
  /** The run of the request's run id, as read before anything is written (answers `read-run`). */
  recorded?: { run: RunRecord | undefined };
  /** The incident's runs (answers `list-runs`). */
  runs?: readonly RunRecord[];
  /** The snapshot pinned to its version, or undefined when it does not exist or is not readable (answers `pin`). */
  pinned?: { snapshot: S3Location | undefined };
  /** The run as stored after `record`, and whether this request created it (a conditional put). */
  stored?: { run: RunRecord; created: boolean };
}

/** A refusal as the finance API answers it: 400 for a request that is not valid, 409 for one that conflicts. */
export interface StartRefusal {
  kind: "refused";
  status: 400 | 409;
  message: string;
  problems?: string[];
}

/** The next thing to do: read or write what is named, or answer. */
export type StartDecision =
  | StartRefusal
  /** Read the run of this id. */
  | { kind: "read-run"; runId: string }
  /** Read the incident's runs: a new run where reruns need a proposal. */
  | { kind: "list-runs" }
  /** Read the snapshot's version now (or check the version given exists). */
  | { kind: "pin"; snapshot: S3Location }
  /** Create this run record unless a run of its id exists; then read the one stored. */
  | { kind: "record"; run: RunRecord }
  /** Leave the incident among the run's files and start (or start again: same name, same input) its execution. */
  | { kind: "start"; run: RunRecord; created: boolean; snapshot: S3Location }
  /** Answer with the run as found (it completed): nothing to start. */
  | { kind: "found"; run: RunRecord };

const invalid = (problem: string): StartRefusal => ({
  kind: "refused",
  status: 400,
  message: "the request is not valid",
  problems: [problem],
});

/** The version in a recorded `s3://bucket/key?versionId=…`, when it names this very object. */
function versionOf(snapshotName: string, location: { bucket: string; key: string }): string | undefined {
  const prefix = `${s3Uri({ bucket: location.bucket, key: location.key })}?versionId=`;
  return snapshotName.startsWith(prefix) ? decodeURIComponent(snapshotName.slice(prefix.length)) : undefined;
}

/** The run record a request asks for, as requested: what `record` creates, and what a found run is checked against. */
function requestedRun(request: RunToStart, runId: string, snapshot: S3Location, now: Date): RunRecord {
  const { incident } = request;
  return {
    incidentId: request.incidentId,
    runId,
    requestedBy: request.requestedBy,
    reason: request.reason,
    dryRun: request.dryRun,
    status: "requested",
    startedAt: now.toISOString(),
    policy: { rule: incident.rule, dayBasis: incident.dayBasis, rounding: incident.rounding },
    incidentDigest: sha256(request.incidentText),
    snapshotDigest: "",
    snapshotName: s3Uri(snapshot),
    batchSize: request.batchSize,
    ...(request.proposalId !== undefined ? { proposalId: request.proposalId } : {}),
  };
}

/**
 * Decides the next step of starting a run. The snapshot must be under SNAPSHOTS_PREFIX of the snapshot bucket
 * (400), and is pinned to its version: the one asked for, else the one its run recorded (a retry without a version
 * means the version its run recorded, not whatever was uploaded since), else the latest. The run id comes from the
 * incident and the request id, so a retry finds its run: with the same inputs it starts again (Step Functions
 * answers a second `StartExecution` of the same name and input as the first, and starts nothing), or is found once
 * completed; with other inputs (incident, snapshot, dry-run flag, batch size) it is refused (409), and so is a
 * retry of a failed run. Where the stage requires it, a new rerun is refused unless it applies a proposal
 * (`unapprovedRerunRefusal`; 409, not 403: API Gateway answers 403 for a request IAM denies, and callers read it
 * so).
 *
 * @param request - the run asked for
 * @param rules - the stage's snapshot bucket and rerun policy
 * @param facts - what the caller has read and written so far
 * @returns the next read or write to do, or the answer
 */
export function startRunDecision(request: RunToStart, rules: StartRules, facts: StartFacts): StartDecision {
  const { incidentId, snapshot: asked } = request;
  if (asked.bucket !== rules.snapshotBucket)
    return invalid(`snapshot.bucket: must be ${rules.snapshotBucket}, the bucket hiwari reads snapshots from`);
  if (!asked.key.startsWith(SNAPSHOTS_PREFIX))
    return invalid(`snapshot.key: must start with ${SNAPSHOTS_PREFIX} (where the run bucket keeps snapshots)`);
  const runId = runIdOf(incidentId, request.requestId);
  if (!facts.recorded) return { kind: "read-run", runId };
  const recorded = facts.recorded.run;
  // A retry (its run recorded) is never refused as a rerun: it is the same run.
  if (!recorded && rules.requireProposalForReruns) {
    if (!facts.runs) return { kind: "list-runs" };
    const refusal = unapprovedRerunRefusal({ ...request, runId }, facts.runs);
    if (refusal) return { kind: "refused", status: 409, message: refusal };
  }
  if (!facts.pinned) {
    const recordedVersion = asked.versionId ? undefined : recorded && versionOf(recorded.snapshotName, asked);
    return { kind: "pin", snapshot: recordedVersion ? { ...asked, versionId: recordedVersion } : asked };
  }
  const { snapshot } = facts.pinned;
  if (!snapshot) return invalid(`snapshot: ${s3Uri(asked)} does not exist (or is not readable)`);
  const wanted = requestedRun(request, runId, snapshot, facts.now);
  if (!facts.stored) return { kind: "record", run: wanted };
  const { run, created } = facts.stored;
  if (created) return { kind: "start", run, created, snapshot };
  const differs = differingInput(run, wanted, run.snapshotName === wanted.snapshotName);
  if (differs)
    return {
      kind: "refused",
      status: 409,
      message: `request ${request.requestId} started run ${runId} with another ${differs}; use a new request id`,
    };
  if (run.status === "failed")
    return {
      kind: "refused",
      status: 409,
      message: `run ${runId} failed: ${run.error ?? "unknown error"}. Fix the cause and send a new request id: the new run reconciles with whatever this one stored`,
    };
  if (run.status === "completed") return { kind: "found", run };
  return { kind: "start", run, created, snapshot };
}
