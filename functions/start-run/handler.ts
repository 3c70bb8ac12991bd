import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { HeadObjectCommand, NotFound, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
  type ExecutionInput,
  parseRunRequest,
  RunRequestError,
  SNAPSHOTS_PREFIX,
  s3Uri,
  type ValidRunRequest,
} from "../../shared/api/run-request";
import { differingInput } from "../../shared/pipeline/prepare-run";
import { runIdOf, sha256 } from "../../shared/pipeline/run-context";
import { INCIDENT_FILE, type RunRef } from "../../shared/pipeline/run-steps";
import type { RefundStore, RunRecord } from "../../shared/store/refund-store";
import { requiredEnv, storeFromEnvironment } from "../commons/environment";
import { json, problem } from "../commons/http/responses";
import { withPowertools } from "../commons/powertools/middleware";
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
}

/** The snapshot's version now (the bucket is versioned): a run reads that version, whatever is uploaded later. */
async function pinSnapshot(s3: S3Client, request: ValidRunRequest) {
  const { bucket, key, versionId } = request.snapshot;
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

function executionInput(
  run: RunRecord,
  request: ValidRunRequest,
  snapshot: ExecutionInput["snapshot"],
  incident: ExecutionInput["incident"],
): ExecutionInput {
  return {
    incidentId: run.incidentId,
    runId: run.runId,
    requestId: request.requestId,
    requestedBy: run.requestedBy,
    reason: run.reason,
    dryRun: run.dryRun,
    batchSize: run.batchSize,
    incidentDigest: run.incidentDigest,
    incident,
    snapshot,
  };
}

/**
 * start-run, `POST /incidents/{incidentId}/runs`: validates the request with the shared zod schemas, pins the
 * snapshot's version, records the run as requested and starts the state machine's execution named by the run
 * id. The run id comes from the incident and the client's request id, so a retried request finds its run:
 * Step Functions answers a second `StartExecution` of the same name and input as the first, and starts nothing.
 */
export async function startRun(event: APIGatewayProxyEvent, deps: StartRunDeps): Promise<APIGatewayProxyResult> {
  const incidentId = event.pathParameters?.incidentId ?? "";
  metrics.addMetric("RunRequests", MetricUnit.Count, 1);
  let body: unknown;
  try {
    body = JSON.parse(event.body ?? "");
  } catch {
    return problem(400, "the request is not valid", ["(the body): must be a JSON object"]);
  }
  let request: ValidRunRequest;
  try {
    request = parseRunRequest(incidentId, body);
  } catch (e) {
    if (e instanceof RunRequestError) return problem(400, "the request is not valid", e.problems);
    throw e;
  }
  if (request.snapshot.bucket !== deps.snapshotBucket)
    return problem(400, "the request is not valid", [
      `snapshot.bucket: must be ${deps.snapshotBucket}, the bucket hiwari reads snapshots from`,
    ]);
  if (!request.snapshot.key.startsWith(SNAPSHOTS_PREFIX))
    return problem(400, "the request is not valid", [
      `snapshot.key: must start with ${SNAPSHOTS_PREFIX} (where the run bucket keeps snapshots)`,
    ]);
  // A retried request without a version means the version its run recorded, not whatever was uploaded since.
  const runId = runIdOf(incidentId, request.requestId);
  const recorded = request.snapshot.versionId ? undefined : await deps.store.getRun(incidentId, runId);
  const recordedVersion = recorded && versionOf(recorded.snapshotName, request.snapshot);
  const snapshot = await pinSnapshot(deps.s3, {
    ...request,
    snapshot: recordedVersion ? { ...request.snapshot, versionId: recordedVersion } : request.snapshot,
  });
  if (!snapshot)
    return problem(400, "the request is not valid", [
      `snapshot: ${s3Uri(request.snapshot)} does not exist (or is not readable)`,
    ]);

  // Keys sorted: the same incident sent with its keys in another order is the same request.
  const incidentText = canonicalJson(request.incidentDocument);
  const wanted: RunRecord = {
    incidentId,
    runId,
    requestedBy: event.requestContext?.identity?.userArn ?? event.requestContext?.identity?.caller ?? "unknown",
    reason: request.reason,
    dryRun: request.dryRun,
    status: "requested",
    startedAt: new Date().toISOString(),
    policy: { rule: request.incident.rule, dayBasis: request.incident.dayBasis, rounding: request.incident.rounding },
    incidentDigest: sha256(incidentText),
    snapshotDigest: "",
    snapshotName: s3Uri(snapshot),
    batchSize: request.batchSize,
  };
  const created = await deps.store.createRun(wanted);
  const run = created ? wanted : (recorded ?? (await deps.store.getRun(incidentId, runId)));
  if (!run) throw new Error(`run ${runId}: recorded, yet not found`);
  const answer = { runId, incidentId, links: { self: `/incidents/${encodeURIComponent(incidentId)}/runs/${runId}` } };
  if (!created) {
    const differs = differingInput(run, wanted, run.snapshotName === wanted.snapshotName);
    if (differs)
      return problem(
        409,
        `request ${request.requestId} started run ${runId} with another ${differs}; use a new request id`,
      );
    if (run.status === "failed")
      return problem(
        409,
        `run ${runId} failed: ${run.error ?? "unknown error"}. Fix the cause and send a new request id: the new run reconciles with whatever this one stored`,
      );
    if (run.status === "completed") return json(200, { ...answer, status: run.status, created: false });
  }
  // The incident travels by reference (it may be 1 MiB; an execution's input is at most 256 KiB): written among the
  // run's files as the canonical JSON it was digested as, so a retried request writes the same bytes and starts the
  // same input.
  const files = deps.filesOf({ incidentId, runId });
  await files.put(INCIDENT_FILE, incidentText);
  const incident = { ...files.location(INCIDENT_FILE), sha256: sha256(incidentText) };
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: runId,
        input: JSON.stringify(executionInput(run, request, snapshot, incident)),
      }),
    );
  } catch (e) {
    // The execution of this name exists already (it ran, or runs, with this run's recorded input): nothing to start.
    if (!(e instanceof ExecutionAlreadyExists)) throw e;
  }
  if (created) metrics.addMetric("RunsStarted", MetricUnit.Count, 1);
  logger.info(created ? "run started" : "run found", { incidentId, runId, dryRun: run.dryRun });
  return json(created ? 202 : 200, { ...answer, status: run.status, created });
}

let deps: StartRunDeps | undefined;

/** The deployed dependencies, built once per container. */
async function depsFromEnvironment(): Promise<StartRunDeps> {
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
    };
  }
  return deps;
}

export function makeHandler(getDeps: () => Promise<StartRunDeps> = depsFromEnvironment) {
  return withPowertools(async (event: APIGatewayProxyEvent) => startRun(event, await getDeps()));
}

export const handler = makeHandler();
