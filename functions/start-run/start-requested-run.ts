import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { HeadObjectCommand, NotFound, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { APIGatewayProxyResult } from "aws-lambda";
import { type ExecutionInput, type S3Location, SNAPSHOTS_PREFIX, s3Uri } from "../../shared/api/run-request";
import type { Incident } from "../../shared/input/incident";
import { differingInput } from "../../shared/pipeline/prepare-run";
import { unapprovedRerunRefusal } from "../../shared/pipeline/rerun-policy";
import { runIdOf, sha256 } from "../../shared/pipeline/run-context";
import { INCIDENT_FILE, type RunRef } from "../../shared/pipeline/run-steps";
import type { RefundStore, RunRecord } from "../../shared/store/refund-store";
import type { DynamoDbRefundStore } from "../commons/dynamodb/dynamodb-refund-store";
import { requiredEnv, storeFromEnvironment } from "../commons/environment";
import { json, problem } from "../commons/http/responses";
import { logger, metrics, tracer } from "../commons/powertools/powertools";
import type { RunFilesAt } from "../commons/runtime";
import { runPrefix, S3RunFiles } from "../commons/s3/s3-run-files";

export interface StartRunDeps {
  store: RefundStore;
  s3: S3Client;
  /** The run's files (the run bucket's `runs/<incident>/<run>/`), where the incident is left for prepare. */
  filesOf(ref: RunRef): RunFilesAt;
  sfn: SFNClient;
  stateMachineArn: string;
  /** The bucket finance puts snapshots in: the only one the functions may read. */
  snapshotBucket: string;
  /** The stage's `requireProposalForReruns`: a rerun only through an approved proposal (off when absent). */
  requireProposalForReruns?: boolean;
}

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

/** What came of it: the run started (or found, on a retry), or why not, as the finance API answers it. */
export type StartOutcome =
  | { kind: "started" | "found"; run: RunRecord }
  | { kind: "refused"; status: 400 | 409; message: string; problems?: string[] };

/** JSON with object keys sorted: the same incident sent with its keys in another order digests the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** The snapshot's version now (the bucket is versioned): a run reads that version, whatever is uploaded later. */
async function pinSnapshot(s3: S3Client, location: S3Location): Promise<S3Location | undefined> {
  const { bucket, key, versionId } = location;
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
    return { bucket, key, versionId: versionId ?? head.VersionId };
  } catch (e) {
    // Without s3:ListBucket (not granted), S3 answers 403 for a key that does not exist, not 404.
    if (
      e instanceof NotFound ||
      (e instanceof S3ServiceException && [400, 403, 404].includes(e.$metadata.httpStatusCode ?? 0))
    )
      return undefined;
    throw e;
  }
}

/** The version in a recorded `s3://bucket/key?versionId=…`, when it names this very object. */
function versionOf(snapshotName: string, location: { bucket: string; key: string }): string | undefined {
  const prefix = `${s3Uri({ bucket: location.bucket, key: location.key })}?versionId=`;
  return snapshotName.startsWith(prefix) ? decodeURIComponent(snapshotName.slice(prefix.length)) : undefined;
}

const invalid = (problem: string): StartOutcome => ({
  kind: "refused",
  status: 400,
  message: "the request is not valid",
  problems: [problem],
});

/**
 * Records a run as requested and starts the state machine's execution named by its run id: the runs POST's and an
 * approval's one way in. The snapshot must be under SNAPSHOTS_PREFIX of the snapshot bucket, and is pinned to its
 * version. The run id comes from the incident and the request id, so a retry finds its run: Step Functions answers
 * a second `StartExecution` of the same name and input as the first, and starts nothing. Where the stage requires
 * it, a new rerun is refused unless it applies a proposal (`unapprovedRerunRefusal`).
 */
export async function startRequestedRun(request: RunToStart, deps: StartRunDeps): Promise<StartOutcome> {
  const { incidentId, snapshot: asked } = request;
  if (asked.bucket !== deps.snapshotBucket)
    return invalid(`snapshot.bucket: must be ${deps.snapshotBucket}, the bucket hiwari reads snapshots from`);
  if (!asked.key.startsWith(SNAPSHOTS_PREFIX))
    return invalid(`snapshot.key: must start with ${SNAPSHOTS_PREFIX} (where the run bucket keeps snapshots)`);
  const runId = runIdOf(incidentId, request.requestId);
  const recorded = await deps.store.getRun(incidentId, runId);
  if (!recorded && deps.requireProposalForReruns) {
    const refusal = unapprovedRerunRefusal({ ...request, runId }, await deps.store.listRuns(incidentId));
    // 409, not 403: API Gateway answers 403 for a request IAM denies, and callers read it so (bin/commands/rerun.ts).
    if (refusal) return { kind: "refused", status: 409, message: refusal };
  }
  // A retry without a version means the version its run recorded, not whatever was uploaded since.
  const recordedVersion = asked.versionId ? undefined : recorded && versionOf(recorded.snapshotName, asked);
  const snapshot = await pinSnapshot(deps.s3, recordedVersion ? { ...asked, versionId: recordedVersion } : asked);
  if (!snapshot) return invalid(`snapshot: ${s3Uri(asked)} does not exist (or is not readable)`);

  const { incident } = request;
  const wanted: RunRecord = {
    incidentId,
    runId,
    requestedBy: request.requestedBy,
    reason: request.reason,
    dryRun: request.dryRun,
    status: "requested",
    startedAt: new Date().toISOString(),
    policy: { rule: incident.rule, dayBasis: incident.dayBasis, rounding: incident.rounding },
    incidentDigest: sha256(request.incidentText),
    snapshotDigest: "",
    snapshotName: s3Uri(snapshot),
    batchSize: request.batchSize,
    ...(request.proposalId !== undefined ? { proposalId: request.proposalId } : {}),
  };
  const created = await deps.store.createRun(wanted);
  const run = created ? wanted : (recorded ?? (await deps.store.getRun(incidentId, runId)));
  if (!run) throw new Error(`run ${runId}: recorded, yet not found`);
  if (!created) {
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
  }
  // The incident travels by reference (it may be 1 MiB; an execution's input is at most 256 KiB): written among the
  // run's files as the canonical JSON it was digested as, so a retried request writes the same bytes and starts the
  // same input.
  const files = deps.filesOf({ incidentId, runId });
  await files.put(INCIDENT_FILE, request.incidentText);
  const input: ExecutionInput = {
    incidentId,
    runId,
    requestId: request.requestId,
    requestedBy: run.requestedBy,
    reason: run.reason,
    dryRun: run.dryRun,
    batchSize: run.batchSize,
    incidentDigest: run.incidentDigest,
    incident: { ...files.location(INCIDENT_FILE), sha256: sha256(request.incidentText) },
    snapshot,
  };
  try {
    await deps.sfn.send(
      new StartExecutionCommand({ stateMachineArn: deps.stateMachineArn, name: runId, input: JSON.stringify(input) }),
    );
  } catch (e) {
    // The execution of this name exists already (it ran, or runs, with this run's recorded input): nothing to start.
    if (!(e instanceof ExecutionAlreadyExists)) throw e;
  }
  if (created) metrics.addMetric("RunsStarted", MetricUnit.Count, 1);
  logger.info(created ? "run started" : "run found", { incidentId, runId, dryRun: run.dryRun });
  return { kind: created ? "started" : "found", run };
}

/** A started or found run as the finance API shows it: its id, status, whether this request created it, its link. */
export function runSummary(outcome: Exclude<StartOutcome, { kind: "refused" }>) {
  const { incidentId, runId, status } = outcome.run;
  const self = `/incidents/${encodeURIComponent(incidentId)}/runs/${runId}`;
  return { runId, incidentId, links: { self }, status, created: outcome.kind === "started" };
}

/** The answer to a started (202) or found (200) run, or the refusal. */
export function startAnswer(outcome: StartOutcome): APIGatewayProxyResult {
  if (outcome.kind === "refused") return problem(outcome.status, outcome.message, outcome.problems);
  return json(outcome.kind === "started" ? 202 : 200, runSummary(outcome));
}

/** The deployed dependencies: the store is the DynamoDB one (runs and proposals). */
export type DeployedStartRunDeps = StartRunDeps & { store: DynamoDbRefundStore };

let deps: DeployedStartRunDeps | undefined;

/** The deployed dependencies, built once per container. */
export async function startRunDepsFromEnvironment(): Promise<DeployedStartRunDeps> {
  if (!deps) {
    const s3 = tracer.captureAWSv3Client(new S3Client({}));
    const bucket = requiredEnv("SNAPSHOT_BUCKET"); // snapshots and run files share the run bucket
    deps = {
      store: storeFromEnvironment(),
      s3,
      filesOf: (ref) => new S3RunFiles(s3, bucket, runPrefix(ref)),
      sfn: tracer.captureAWSv3Client(new SFNClient({})),
      stateMachineArn: requiredEnv("STATE_MACHINE_ARN"),
      snapshotBucket: bucket,
      requireProposalForReruns: requiredEnv("REQUIRE_PROPOSAL_FOR_RERUNS") === "true",
    };
  }
  return deps;
}
