import { describe, expect, it, vi } from "vitest";
import { runPrefix } from "../../../functions/commons/s3/s3-run-files";
import { makeHandler as makeComputeBatch } from "../../../functions/compute-batch/handler";
import {
  makeCompleteHandler,
  makeFailHandler,
  makeShardHandler,
  messageOf,
} from "../../../functions/finalize-run/handler";
import { makeHandler as makePrepare } from "../../../functions/prepare-run/handler";
import type { ExecutionInput } from "../../../shared/api/run-request";
import { PLAN_FILE } from "../../../shared/pipeline/run-steps";
import { SHARDS } from "../../../shared/store/refund-store";
import { csvOf, incidentDoc, keyedLine, row } from "../../helpers/factories";
import {
  BUCKET,
  executionInput,
  lambdaContext,
  mapBatches,
  runThrough as runAll,
  runSteps,
  storedLinesOf,
  useHarness,
} from "../../helpers/pipeline-harness";

const h = useHarness();

// Each test runs an incident of its own (own(...)), seeding what it needs with firstRun: any one passes alone.
const own = (incidentId: string) => incidentDoc({ incidentId });

/** The state machine's path for one request: prepare, every child, every shard, complete. */
async function runThrough(input: ExecutionInput, finalizeOnly?: number[]) {
  await makePrepare(h.deps)(input, lambdaContext);
  for (const batch of mapBatches(h, input, 2)) await makeComputeBatch(h.deps)(batch, lambdaContext);
  const shards = [];
  for (const shard of finalizeOnly ?? Array.from({ length: SHARDS }, (_, i) => i))
    shards.push(
      await makeShardHandler(h.deps)({ incidentId: input.incidentId, runId: input.runId, shard }, lambdaContext),
    );
  expect(shards.map((s) => s.shard)).toEqual(finalizeOnly ?? Array.from({ length: SHARDS }, (_, i) => i));
  return makeCompleteHandler(h.deps)({ incidentId: input.incidentId, runId: input.runId }, lambdaContext);
}

/**
 * A completed first run of `incident` over `rows` (snapshot at `key`): lines stored at version 1, lock released.
 * Through the harness's runThrough, which finalizes eight shards at once as the state machine does.
 */
async function firstRun(incident: { incidentId: string }, key: string, rows: Parameters<typeof csvOf>[0]) {
  const version = h.s3.put(BUCKET, key, csvOf(rows));
  const done = await runAll(h, h.deps, executionInput(h, incident, { key, versionId: version }));
  expect(done.status).toBe("completed");
}

describe("finalize-run and complete-run", () => {
  it("voids the lines of a subscription absent from the corrected snapshot, and totals what is owed now", async () => {
    const incident = own("voids-absent");
    const first = h.s3.put(BUCKET, "snapshots/a.csv", csvOf([row({}, 1), row({}, 2), row({}, 3)]));
    const done1 = await runThrough(executionInput(h, incident, { key: "snapshots/a.csv", versionId: first }));
    expect(done1.counts).toMatchObject({ calculated: 3, voided: 0 });
    // 210 JPY, December 2011 (31 days), calendar days 20–22 suspended: 3 days, floor(210 × 3 / 31) = 20 each.
    expect(done1.totals).toEqual([{ serviceCode: "IMADOKO", currency: "JPY", lines: 3, amount: "60" }]);

    const second = h.s3.put(BUCKET, "snapshots/a.csv", csvOf([row({}, 1), row({}, 3)]));
    const input = executionInput(h, incident, { key: "snapshots/a.csv", versionId: second }, { requestId: "req-2" });
    const done2 = await runThrough(input);
    expect(done2.counts).toMatchObject({ rows: 2, calculated: 0, adjusted: 0, voided: 1, unchanged: 2 });
    expect(done2.totals).toEqual([{ serviceCode: "IMADOKO", currency: "JPY", lines: 2, amount: "40" }]);
    expect(JSON.parse(h.s3.text(BUCKET, `${runPrefix(input)}run.json`) ?? "{}")).toMatchObject({
      runId: input.runId,
      status: "completed",
    });
  });

  it("a dry run leaves the changes it would make in the run's files and writes no line", async () => {
    // Prepare: C-1 and C-3 stored at 20 (210 JPY, 3 of December's 31 days)
    const incident = own("dry-run-changes");
    await firstRun(incident, "snapshots/dry-first.csv", [row({}, 1), row({}, 3)]);
    const version = h.s3.put(BUCKET, "snapshots/b.csv", csvOf([row({ monthly_fee: "310" }, 1), row({}, 3)]));
    const input = executionInput(
      h,
      incident,
      { key: "snapshots/b.csv", versionId: version },
      { requestId: "req-3", dryRun: true },
    );
    const done = await runThrough(input);
    expect(done.counts).toMatchObject({ adjusted: 1, unchanged: 1 });
    const files = h.s3.keys(BUCKET).filter((k) => k.startsWith(`${runPrefix(input)}dry-run/`));
    const changes = files.flatMap((k) =>
      (h.s3.text(BUCKET, k) ?? "")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );
    // 310 JPY for 3 of December's 31 days: floor(310 × 3 / 31) = 30 where 20 stood, as the change's event would say.
    expect(changes).toEqual([
      expect.objectContaining({
        change: "adjusted",
        lineId: expect.stringContaining("C-1"),
        version: 2,
        previousAmount: "20",
        delta: "10",
      }),
    ]);
    expect(changes[0].line.amount).toBe(30);
    const [stored] = await h.store.linesLike(incident.incidentId, [changes[0].line]);
    expect(stored?.version).toBe(1);
  });

  it("finalize voids nothing while a batch is missing (a Map that lost a child)", async () => {
    const incident = own("batch-missing");
    await firstRun(incident, "snapshots/missing-first.csv", [row({}, 1), row({}, 2), row({}, 3)]);
    const version = h.s3.put(
      BUCKET,
      "snapshots/e.csv",
      csvOf([row({}, 1), row({}, 2), row({}, 4), row({}, 5), row({}, 6)]),
    );
    const input = executionInput(h, incident, { key: "snapshots/e.csv", versionId: version }, { requestId: "req-6" });
    await makePrepare(h.deps)(input, lambdaContext);
    const [first] = mapBatches(h, input, 1); // 3 slices of 2 rows: only the first child ran
    await makeComputeBatch(h.deps)(first as never, lambdaContext);
    const error = await Promise.all(
      Array.from({ length: SHARDS }, (_, shard) =>
        makeShardHandler(h.deps)({ incidentId: input.incidentId, runId: input.runId, shard }, lambdaContext),
      ),
    ).catch((e: Error) => e);
    expect(error).toMatchObject({
      name: "MissingBatchesError",
      message: `run ${input.runId}: 1 of 3 batches are recorded; the run cannot complete`,
    });
    // Subscription 3, absent from this snapshot, still stands: nothing was voided.
    const [three] = await h.store.linesLike(incident.incidentId, [keyedLine("C-3", 0n)]);
    expect(three?.status).toBe("active");
  });

  it("complete refuses a run with a shard not finalized: nothing is recorded as completed", async () => {
    const incident = own("shard-not-finalized");
    const version = h.s3.put(BUCKET, "snapshots/c.csv", csvOf([row({}, 1), row({}, 3)]));
    const input = executionInput(h, incident, { key: "snapshots/c.csv", versionId: version }, { requestId: "req-4" });
    await expect(runThrough(input, [0, 1])).rejects.toThrow(
      `run ${input.runId}: 2 of 64 shards are finalized (not 2, 3, 4,`,
    );
    expect((await h.store.getRun(input.incidentId, input.runId))?.status).toBe("running");
  });

  it("complete refuses a run whose rows do not add up to the snapshot's: nothing is recorded as completed", async () => {
    const incident = own("rows-do-not-add-up");
    const version = h.s3.put(BUCKET, "snapshots/d.csv", csvOf([row({}, 1), row({ monthly_fee: "x" }, 2), row({}, 3)]));
    const input = executionInput(
      h,
      incident,
      { key: "snapshots/d.csv", versionId: version },
      { requestId: "req-rows" },
    );
    const steps = runSteps(h, h.deps, input, 2);
    await steps.prepare();
    // The survey counted 3 rows; say it counted 4, as if a batch had lost one on its way.
    const planKey = `${runPrefix(input)}${PLAN_FILE}`;
    const plan = JSON.parse(h.s3.text(BUCKET, planKey) ?? "{}");
    expect(plan.rows).toBe(3);
    h.s3.put(BUCKET, planKey, JSON.stringify({ ...plan, rows: 4 }));
    for (const child of steps.children()) await steps.compute(child);
    await expect(steps.finalize()).rejects.toThrow(
      `run ${input.runId}: the rows do not add up: the batches judged 3 rows where the snapshot holds 4`,
    );
    expect((await h.store.getRun(input.incidentId, input.runId))?.status).toBe("running");
  });
});

describe("fail-run", () => {
  it("records a stopped or timed-out execution from its status-change event, and never un-completes a run", async () => {
    // Prepare: a completed run, then a run prepared (holding the lock) whose execution is stopped
    const incident = own("stopped-execution");
    await firstRun(incident, "snapshots/stopped-first.csv", [row({}, 1)]);
    const version = h.s3.put(BUCKET, "snapshots/stopped.csv", csvOf([row({}, 1)]));
    const input = executionInput(
      h,
      incident,
      { key: "snapshots/stopped.csv", versionId: version },
      { requestId: "req-5" },
    );
    await makePrepare(h.deps)(input, lambdaContext);
    // EventBridge's "Step Functions Execution Status Change", as the rule hands it to fail-run.
    const stopped = {
      version: "0",
      source: "aws.states",
      "detail-type": "Step Functions Execution Status Change",
      detail: {
        executionArn: `arn:aws:states:ap-northeast-1:123456789012:execution:runs:${input.runId}`,
        name: input.runId,
        status: "ABORTED",
        input: JSON.stringify(input),
        cause: "stopped by an operator",
        error: null,
      },
    };
    await makeFailHandler(h.deps, 0)(stopped, lambdaContext);
    expect(await h.store.getRun(input.incidentId, input.runId)).toMatchObject({
      status: "failed",
      error: "execution ABORTED: stopped by an operator",
    });
    // The lock is free at once with no drain (in process), so the incident can be run again.
    await expect(h.store.acquireLock(input.incidentId, "run-next", 1)).resolves.toBeUndefined();

    const completed = await h.store
      .listRuns(incident.incidentId)
      .then((runs) => runs.find((r) => r.status === "completed"));
    await makeFailHandler(h.deps, 0)(
      { incidentId: incident.incidentId, runId: completed?.runId, error: { Error: "States.Timeout", Cause: "late" } },
      lambdaContext,
    );
    expect((await h.store.getRun(incident.incidentId, completed?.runId as string))?.status).toBe("completed");
  });
});

describe("fail-run on the rule's status changes", () => {
  const statusChange = (status: string, input: unknown, error: string | null, cause: string | null) => ({
    version: "0",
    source: "aws.states",
    "detail-type": "Step Functions Execution Status Change",
    detail: {
      executionArn: "arn:aws:states:ap-northeast-1:123456789012:execution:runs:x",
      status,
      input: JSON.stringify(input),
      error,
      cause,
    },
  });

  it("records a failure no Catch applied to, and keeps the first failure when the Catch recorded one already", async () => {
    // Prepare: two runs prepared, each holding its own incident.
    const version = h.s3.put(BUCKET, "snapshots/f.csv", csvOf([row({}, 1)]));
    const uncaught = executionInput(h, own("fail-uncaught"), { key: "snapshots/f.csv", versionId: version });
    const caught = executionInput(h, own("fail-caught"), { key: "snapshots/f.csv", versionId: version });
    await makePrepare(h.deps)(uncaught, lambdaContext);
    await makePrepare(h.deps)(caught, lambdaContext);
    const fail = makeFailHandler(h.deps, 0);

    // Act: a failure where no Catch applies; a failure the Catch recorded, then its status change.
    await fail(
      statusChange("FAILED", uncaught, "States.DataLimitExceeded", "the state's output is 300,000 bytes"),
      lambdaContext,
    );
    await fail(
      {
        ...caught,
        error: {
          Error: "RunLockedError",
          Cause: JSON.stringify({ errorType: "RunLockedError", errorMessage: "locked" }),
        },
      },
      lambdaContext,
    );
    await fail(statusChange("FAILED", caught, "RunLockedError", "locked"), lambdaContext);

    // Assess
    expect(await h.store.getRun(uncaught.incidentId, uncaught.runId)).toMatchObject({
      status: "failed",
      error: "execution FAILED: States.DataLimitExceeded: the state's output is 300,000 bytes",
    });
    expect(await h.store.getRun(caught.incidentId, caught.runId)).toMatchObject({
      status: "failed",
      error: "RunLockedError: locked",
    });
  });

  it("ignores the status change of an execution that is not a run (a Map child's, whose input is its batch)", async () => {
    const child = { BatchInput: { incidentId: "x", runId: "run-00000000000000000000" }, Items: [{ batchNo: "1" }] };
    await expect(
      makeFailHandler(h.deps, 0)(statusChange("FAILED", child, "States.TaskFailed", "boom"), lambdaContext),
    ).resolves.toEqual({ ignored: true });
    await expect(
      makeFailHandler(h.deps, 0)(
        { ...statusChange("ABORTED", {}, null, null), detail: { status: "ABORTED", input: "not json" } },
        lambdaContext,
      ),
    ).resolves.toEqual({ ignored: true });
  });
});

describe("messageOf (a Catch's error)", () => {
  it("takes the Lambda's errorMessage from Cause, or Cause itself for the service's own errors", () => {
    expect(
      messageOf({
        Error: "RunLockedError",
        Cause: JSON.stringify({ errorType: "RunLockedError", errorMessage: "held" }),
      }),
    ).toBe("RunLockedError: held");
    expect(messageOf({ Error: "States.Timeout", Cause: "the task timed out" })).toBe(
      "States.Timeout: the task timed out",
    );
    expect(messageOf(undefined)).toBe("the run failed");
  });
});

describe("finalize on an incident's first run", () => {
  it("reads nothing of the refunds table (nothing stood before), and a retried shard rewrites its goodwill as it was", async () => {
    // Prepare: a first run with goodwill, two subscribers.
    const withGoodwill = incidentDoc({ incidentId: "first-run-reads", goodwill: { amount: 500, currency: "JPY" } });
    const version = h.s3.put(BUCKET, "snapshots/first.csv", csvOf([row({}, 1), row({}, 2)]));
    const input = executionInput(h, withGoodwill, { key: "snapshots/first.csv", versionId: version });
    const ref = { incidentId: input.incidentId, runId: input.runId };
    await makePrepare(h.deps)(input, lambdaContext);
    for (const batch of mapBatches(h, input, 2)) await makeComputeBatch(h.deps)(batch, lambdaContext);
    const shardReads = vi.spyOn(h.store, "linesOfShard");
    const lineReads = vi.spyOn(h.store, "linesLike");

    // Act: every shard, then every shard again (a retried inline Map), then complete.
    try {
      for (let attempt = 0; attempt < 2; attempt++)
        for (let shard = 0; shard < SHARDS; shard++)
          await makeShardHandler(h.deps)({ ...ref, shard }, lambdaContext).then((r) => expect(r.shard).toBe(shard));
    } finally {
      shardReads.mockRestore();
      lineReads.mockRestore();
    }
    const done = await makeCompleteHandler(h.deps)(ref, lambdaContext);

    // Assess: no read; the goodwill lines stand once, at version 1; the totals count them once.
    expect(shardReads).not.toHaveBeenCalled();
    expect(lineReads).not.toHaveBeenCalled();
    const goodwill = (await storedLinesOf(h.store, input.incidentId)).filter((l) => l.subscriptionId === null);
    expect(goodwill.map((l) => [l.subscriberId, l.version, l.amount])).toEqual(
      expect.arrayContaining([
        ["S-1", 1, 500n],
        ["S-2", 1, 500n],
      ]),
    );
    expect(goodwill).toHaveLength(2);
    expect(done.totals).toContainEqual({ serviceCode: null, currency: "JPY", lines: 2, amount: "1000" });
  });
});
