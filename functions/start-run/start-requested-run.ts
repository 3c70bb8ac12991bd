import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { HeadObjectCommand, NotFound, type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { APIGatewayProxyResult } from "aws-lambda";
import type { ExecutionInput, S3Location } from "../../shared/api/run-request";
import {
  type RunToStart,
  type StartDecision,
  type StartFacts,
  type StartRefusal,
  startRunDecision,
} from "../../shared/api/start-run-decision";
import { sha256 } from "../../shared/pipeline/run-context";
import { INCIDENT_FILE, type RunRef } from "../../shared/pipeline/run-steps";
import type { RefundStore, RunRecord } from "../../shared/store/refund-store";
import { s3Client } from "../commons/clients/s3";
import { sfnClient } from "../commons/clients/step-functions";
import type { DynamoDbRefundStore } from "../commons/dynamodb/dynamodb-refund-store";
import { requiredEnv, storeFromEnvironment } from "../commons/environment";
import { json, problem } from "../commons/http/responses";
import { logger, metrics } from "../commons/powertools/powertools";
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

export type { RunToStart };

/** What came of it: the run started (or found, on a retry), or why not, as the finance API answers it. */
export type StartOutcome = { kind: "started" | "found"; run: RunRecord } | StartRefusal;

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

/**
 * Records a run as requested and starts the state machine's execution named by its run id: the runs POST's and an
 * approval's one way in. What to do, and what to answer, is `startRunDecision`'s; this does the reads and writes it
 * asks for: the run record, the incident's runs, the snapshot's version, the conditional put, the execution.
 */
export async function startRequestedRun(request: RunToStart, deps: StartRunDeps): Promise<StartOutcome> {
  const { incidentId } = request;
  const facts: StartFacts = { now: new Date() };
  while (true) {
    const next = startRunDecision(request, deps, facts);
    switch (next.kind) {
      case "read-run":
        facts.recorded = { run: await deps.store.getRun(incidentId, next.runId) };
        break;
      case "list-runs":
        facts.runs = await deps.store.listRuns(incidentId);
        break;
      case "pin":
        facts.pinned = { snapshot: await pinSnapshot(deps.s3, next.snapshot) };
        break;
      case "record": {
        const created = await deps.store.createRun(next.run);
        const run = created ? next.run : (facts.recorded?.run ?? (await deps.store.getRun(incidentId, next.run.runId)));
        if (!run) throw new Error(`run ${next.run.runId}: recorded, yet not found`);
        facts.stored = { run, created };
        break;
      }
      case "start":
        return startExecution(request, next, deps);
      case "found":
      case "refused":
        return next;
    }
  }
}

/**
 * Leaves the incident among the run's files and starts its execution. The incident travels by reference (it may be
 * 1 MiB; an execution's input is at most 256 KiB): written as the canonical JSON it was digested as, so a retried
 * request writes the same bytes and starts the same input.
 */
async function startExecution(
  request: RunToStart,
  { run, created, snapshot }: Extract<StartDecision, { kind: "start" }>,
  deps: StartRunDeps,
): Promise<StartOutcome> {
  const { incidentId, runId } = run;
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
    const s3 = s3Client();
    const bucket = requiredEnv("SNAPSHOT_BUCKET"); // snapshots and run files share the run bucket
    deps = {
      store: storeFromEnvironment(),
      s3,
      filesOf: (ref) => new S3RunFiles(s3, bucket, runPrefix(ref)),
      sfn: sfnClient(),
      stateMachineArn: requiredEnv("STATE_MACHINE_ARN"),
      snapshotBucket: bucket,
      requireProposalForReruns: requiredEnv("REQUIRE_PROPOSAL_FOR_RERUNS") === "true",
    };
  }
  return deps;
}
