import type { Context } from "aws-lambda";
import { afterAll, beforeAll } from "vitest";
import { type DynamoDbLocal, startDynamoDbLocal } from "../../bin/io/dynamodb-local";
import { createTables } from "../../functions/commons/dynamodb/create-tables";
import { DynamoDbRefundStore } from "../../functions/commons/dynamodb/dynamodb-refund-store";
import { type RunDeps, s3RunDeps } from "../../functions/commons/runtime";
import { runPrefix } from "../../functions/commons/s3/s3-run-files";
import { makeHandler as makeComputeBatch } from "../../functions/compute-batch/handler";
import { makeCompleteHandler, makeShardHandler } from "../../functions/finalize-run/handler";
import { makeHandler as makePrepare } from "../../functions/prepare-run/handler";
import { type ExecutionInput, s3Uri } from "../../shared/api/run-request";
import { runIdOf, sha256 } from "../../shared/pipeline/run-context";
import { INCIDENT_FILE, type PrepareOutput, SLICES_PER_CHILD } from "../../shared/pipeline/run-steps";
import { manifestItems } from "../../shared/pipeline/survey-snapshot";
import type { StoredLine } from "../../shared/reconcile/reconcile";
import { type RefundStore, SHARDS } from "../../shared/store/refund-store";
import { FakeS3 } from "./fake-s3";

export const BUCKET = "hiwari-runs-test";
export const TABLES = { refunds: "refunds", runs: "runs" };

/** A Lambda context as the runtime passes it (the middlewares read it). */
export const lambdaContext = {
  functionName: "test",
  awsRequestId: "req-1",
  invokedFunctionArn: "arn:aws:lambda:ap-northeast-1:123456789012:function:test",
  memoryLimitInMB: "1024",
  functionVersion: "$LATEST",
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

/** DynamoDB Local (fresh, in memory) and a bucket in memory: what the run functions reach on AWS. */
export interface Harness {
  db: DynamoDbLocal;
  s3: FakeS3;
  store: DynamoDbRefundStore;
  deps: () => RunDeps;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const db = await startDynamoDbLocal();
  await createTables(db.client, TABLES);
  const s3 = new FakeS3();
  const store = new DynamoDbRefundStore(db.client, TABLES);
  const deps: RunDeps = s3RunDeps(store, s3.client, BUCKET, store);
  return { db, s3, store, deps: () => deps, stop: () => db.stop() };
}

/** A harness for the test file: started before its tests, stopped after them (a fresh DynamoDB Local per file). */
export function useHarness(): Harness {
  let current: Harness | undefined;
  beforeAll(async () => {
    current = await startHarness();
  }, 60_000);
  afterAll(async () => {
    await current?.stop();
  });
  const started = () => {
    if (!current) throw new Error("the harness starts in beforeAll");
    return current;
  };
  return {
    get db() {
      return started().db;
    },
    get s3() {
      return started().s3;
    },
    get store() {
      return started().store;
    },
    deps: () => started().deps(),
    stop: () => started().stop(),
  };
}

/**
 * The execution input start-run would build for this request (snapshot pinned to its version), with the incident
 * left among the run's files in the harness's bucket, as start-run leaves it, and passed by reference.
 */
export function executionInput(
  h: Pick<Harness, "s3">,
  incident: { incidentId: string },
  snapshot: { key: string; versionId: string },
  extra: Partial<ExecutionInput> = {},
): ExecutionInput {
  const requestId = extra.requestId ?? "req-1";
  const runId = runIdOf(incident.incidentId, requestId);
  const text = JSON.stringify(incident);
  const key = `${runPrefix({ incidentId: incident.incidentId, runId })}${INCIDENT_FILE}`;
  h.s3.put(BUCKET, key, text);
  return {
    incidentId: incident.incidentId,
    runId,
    requestId,
    requestedBy: "arn:aws:iam::123456789012:user/finance",
    reason: "test",
    dryRun: false,
    batchSize: 2,
    incidentDigest: sha256(text),
    incident: { bucket: BUCKET, key, sha256: sha256(text) },
    snapshot: { bucket: BUCKET, ...snapshot },
    ...extra,
  };
}

/**
 * The manifest's rows as the Distributed Map's CSV item reader hands them over: objects keyed by the header's
 * columns, every value a string, in batches of `perChild` with the BatchInput the ItemBatcher adds.
 */
export function mapBatches(h: Harness, input: ExecutionInput, perChild: number) {
  const items = manifestItems(h.s3.text(BUCKET, `${runPrefix(input)}manifest.csv`) ?? "");
  const batches = [];
  for (let i = 0; i < items.length; i += perChild)
    batches.push({
      BatchInput: { incidentId: input.incidentId, runId: input.runId, snapshot: input.snapshot },
      Items: items.slice(i, i + perChild),
    });
  return batches;
}

export { s3Uri };

/**
 * The state machine's steps, driven through the handlers as `hiwari run` drives them: prepare, the Map's children
 * (each a few manifest rows), each shard of finalize, complete. Step by step, for tests that break one of them.
 */
export function runSteps(h: Harness, deps: () => RunDeps, input: ExecutionInput, perChild = SLICES_PER_CHILD) {
  const ref = { incidentId: input.incidentId, runId: input.runId };
  const compute = makeComputeBatch(deps);
  return {
    ref,
    prepare: async () => (await makePrepare(deps)(input, lambdaContext)) as PrepareOutput,
    children: () => mapBatches(h, input, perChild),
    compute: (child: ReturnType<typeof mapBatches>[number]) => compute(child, lambdaContext),
    /** Every shard of finalize, eight at once, as the state machine's inline Map and `hiwari run` do. */
    shards: () => finalizeShards(deps, ref),
    finalize: async () => {
      await finalizeShards(deps, ref);
      return makeCompleteHandler(deps)(ref, lambdaContext);
    },
  };
}

async function finalizeShards(deps: () => RunDeps, ref: { incidentId: string; runId: string }): Promise<void> {
  const shard = makeShardHandler(deps);
  let next = 0;
  const worker = async () => {
    while (next < SHARDS) await shard({ ...ref, shard: next++ }, lambdaContext);
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** A whole run through the handlers; returns what complete-run returns. */
export async function runThrough(h: Harness, deps: () => RunDeps, input: ExecutionInput, perChild?: number) {
  const steps = runSteps(h, deps, input, perChild);
  const prepared = await steps.prepare();
  if (prepared.status !== "ready") throw new Error(`run ${input.runId}: ${prepared.status}`);
  for (const child of steps.children()) await steps.compute(child);
  return steps.finalize();
}

/** Every line of an incident (standing and voided), from its 64 shards. */
export async function storedLinesOf(store: RefundStore, incidentId: string): Promise<StoredLine[]> {
  const all: StoredLine[] = [];
  for (let n = 0; n < SHARDS; n++) for await (const page of store.linesOfShard(incidentId, n)) all.push(...page);
  return all;
}
