import { describe, expect, it } from "vitest";
import { runPrefix } from "../../../functions/commons/s3/s3-run-files";
import { makeHandler as makeComputeBatch } from "../../../functions/compute-batch/handler";
import { makeCompleteHandler, makeFailHandler, makeShardHandler } from "../../../functions/finalize-run/handler";
import { makeHandler as makePrepare } from "../../../functions/prepare-run/handler";
import { SHARDS } from "../../../shared/store/refund-store";
import { run as computeInMemory, csvOf, incidentDoc, row } from "../../helpers/factories";
import {
  BUCKET,
  executionInput,
  lambdaContext,
  mapBatches,
  runThrough,
  useHarness,
} from "../../helpers/pipeline-harness";

const h = useHarness();

const incident = incidentDoc({ goodwill: { amount: 500, currency: "JPY" } });
// Seven rows: three computed, one of another service (skipped), a bad fee and an id twice (both rejected, as the
// contract rejects every row of a duplicated id); a subscriber id holding a quoted line break.
const rows = [
  row({}, 1),
  row({ subscriber_id: "S-\n2" }, 2),
  row({ monthly_fee: "abc" }, 3),
  row({ service_code: "OTHER" }, 4),
  row({}, 5),
  row({}, 5),
  row({ active_to: "2011-12-21" }, 7),
];

/**
 * A completed first run of `incident` over the seven rows (snapshot uploaded at `key`): what a test that reruns or
 * retries needs stored, under an incident of its own, so that each test stands alone.
 */
async function firstRun(incident: { incidentId: string }, key: string) {
  const versionId = h.s3.put(BUCKET, key, csvOf(rows));
  const input = executionInput(h, incident, { key, versionId });
  expect((await runThrough(h, h.deps, input)).status).toBe("completed");
  return input;
}

describe("prepare-run → compute-batch (Map children) → finalize-run (per shard) → complete-run", () => {
  it("stores exactly the lines `hiwari compute` gives, reading only each slice's bytes", async () => {
    const csv = csvOf(rows);
    const versionId = h.s3.put(BUCKET, "snapshots/2011-12/subs.csv", csv);
    const input = executionInput(h, incident, { key: "snapshots/2011-12/subs.csv", versionId });

    const prepared = (await makePrepare(h.deps)(input, lambdaContext)) as {
      status: string;
      slices: number;
      shards: number[];
      manifest: { bucket: string; key: string };
    };
    expect(prepared).toMatchObject({
      status: "ready",
      slices: 4, // 7 rows in slices of 2
      manifest: { bucket: BUCKET, key: `${runPrefix(input)}manifest.csv` },
    });
    expect(prepared.shards).toHaveLength(SHARDS);

    const batches = mapBatches(h, input, 3); // 4 slices, 3 per child: two children
    expect(batches.map((b) => b.Items.length)).toEqual([3, 1]);
    const compute = makeComputeBatch(h.deps);
    const outs = [];
    for (const batch of batches) outs.push(await compute(batch, lambdaContext));
    expect(outs).toEqual([
      { batches: 3, rows: 6, rejected: 3 },
      { batches: 1, rows: 1, rejected: 0 },
    ]);
    // Each slice was read by its byte range of the pinned version, never whole.
    expect(h.s3.ranges.filter((r) => r.startsWith("snapshots/2011-12/subs.csv "))).toHaveLength(4);
    // A child retried by Lambda (the same items again) rewrites nothing: same lines, same versions.
    const linesNow = async () => {
      const all = [];
      for (let n = 0; n < SHARDS; n++)
        for await (const page of h.store.linesOfShard(input.incidentId, n)) all.push(...page);
      return all.map((l) => `${l.lineId}@${l.version}`).sort();
    };
    const before = await linesNow();
    expect(await compute(batches[0] as never, lambdaContext)).toEqual(outs[0]);
    expect(await linesNow()).toEqual(before);

    const shard = makeShardHandler(h.deps);
    for (const n of prepared.shards)
      await shard({ incidentId: input.incidentId, runId: input.runId, shard: n }, lambdaContext);
    const done = await makeCompleteHandler(h.deps)({ incidentId: input.incidentId, runId: input.runId }, lambdaContext);

    const expected = await computeInMemory(incident, csv);
    expect(done.status).toBe("completed");
    expect(done.counts).toEqual({
      rows: 7,
      computed: 3,
      skipped: 1,
      rejected: 3,
      calculated: expected.lines.length,
      adjusted: 0,
      voided: 0,
      unchanged: 0,
    });
    const stored = [];
    for (let n = 0; n < SHARDS; n++)
      for await (const page of h.store.linesOfShard(input.incidentId, n)) stored.push(...page);
    const key = (l: {
      subscriptionId: string | null;
      subscriberId: string;
      periodStart: string | null;
      amount: bigint;
    }) => `${l.subscriptionId}|${l.subscriberId}|${l.periodStart}|${l.amount}`;
    expect(stored.map(key).sort()).toEqual(expected.lines.map(key).sort());
    // The rejected rows, with their physical lines, in the run's files.
    const rejects = (h.s3.text(BUCKET, `${runPrefix(input)}rejects.jsonl`) ?? "")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rejects.map((r: { line: number }) => r.line).sort()).toEqual(expected.rejects.map((r) => r.line).sort());
    expect(rejects.map((r: { line: number }) => r.line)).toContain(5); // fee "abc": line 5, after the two-line row 3–4
  });

  it("a child run twice at once on a rerun (a retried attempt while the first still writes) changes each line once", async () => {
    // Prepare: a first run of the seven rows (C-1 stored at 20), then the rerun's snapshot
    const incident = incidentDoc({ incidentId: "twice-on-rerun", goodwill: { amount: 500, currency: "JPY" } });
    await firstRun(incident, "snapshots/twice/first.csv");
    const csv = csvOf([row({ monthly_fee: "310" }, 1), row({}, 2), row({ monthly_fee: "310" }, 7)]);
    const versionId = h.s3.put(BUCKET, "snapshots/twice/rerun.csv", csv);
    const input = executionInput(
      h,
      incident,
      { key: "snapshots/twice/rerun.csv", versionId },
      { requestId: "req-twice" },
    );
    await makePrepare(h.deps)(input, lambdaContext);
    const [child] = mapBatches(h, input, 4);
    const compute = makeComputeBatch(h.deps);
    const outs = await Promise.all([compute(child as never, lambdaContext), compute(child as never, lambdaContext)]);
    expect(outs.map((o) => o.rows)).toEqual([3, 3]);
    const stored = await h.store.linesLike(incident.incidentId, [
      { ...(await computeInMemory(incident, csv)).lines[0], lineId: "" } as never,
    ]);
    expect(stored.map((l) => [l.subscriptionId, l.version, String(l.amount), l.runId])).toEqual([
      ["C-1", 2, "30", input.runId], // 310 × 3 / 31 = 30.0…: adjusted once, from 20, by this run
    ]);
  });

  it("a child retried after its run completed writes nothing: the run's lock is gone", async () => {
    const input = await firstRun(incidentDoc({ incidentId: "retried-after-completed" }), "snapshots/retried/subs.csv");
    const [first] = mapBatches(h, input, 3);
    await expect(makeComputeBatch(h.deps)(first as never, lambdaContext)).rejects.toMatchObject({
      name: "LockLostError",
    });
  });

  it("refuses a child whose snapshot bytes are not the version prepare surveyed; fail-run records it", async () => {
    const incident = incidentDoc({ incidentId: "snapshot-changed" });
    const surveyed = h.s3.put(BUCKET, "snapshots/changed/subs.csv", csvOf(rows));
    const input = executionInput(
      h,
      incident,
      { key: "snapshots/changed/subs.csv", versionId: surveyed },
      { requestId: "req-2" },
    );
    await makePrepare(h.deps)(input, lambdaContext);
    const changed = h.s3.put(
      BUCKET,
      "snapshots/changed/subs.csv",
      csvOf([row({ monthly_fee: "999" }, 1), ...rows.slice(1)]),
    );
    const [first] = mapBatches(h, { ...input, snapshot: { ...input.snapshot, versionId: changed } }, 1);
    const error = await makeComputeBatch(h.deps)(first as never, lambdaContext).catch((e: Error) => e);
    expect(error).toMatchObject({
      name: "SnapshotChangedError",
      message: expect.stringMatching(/batch 1: the bytes \d+–\d+ are not those the run was prepared from$/),
    });
    // The child's Catch hands its error to fail-run as Step Functions shapes it (Cause: the Lambda's JSON), with the
    // child's manifest rows; the run is not failed yet (the Map is), but the child's error is on it.
    const cause = JSON.stringify({ errorType: "SnapshotChangedError", errorMessage: (error as Error).message });
    await makeFailHandler(h.deps)(
      { ...first?.BatchInput, items: first?.Items, error: { Error: "SnapshotChangedError", Cause: cause } },
      lambdaContext,
    );
    expect(await h.store.getRun(input.incidentId, input.runId)).toMatchObject({
      status: "running",
      batchError: `batch 1: SnapshotChangedError: ${(error as Error).message}`,
    });
    // Then the Map fails, saying only that a child did; the parent's Catch hands that to fail-run.
    await makeFailHandler(h.deps)(
      {
        incidentId: input.incidentId,
        runId: input.runId,
        error: {
          Error: "States.ExceedToleratedFailureThreshold",
          Cause: "The specified tolerated failure threshold was exceeded",
        },
      },
      lambdaContext,
    );
    const failed = await h.store.getRun(input.incidentId, input.runId);
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toBe(
      `batch 1: SnapshotChangedError: ${(error as Error).message} (then: States.ExceedToleratedFailureThreshold: The specified tolerated failure threshold was exceeded)`,
    );
    // The lock stays for the drain (an invocation still in flight may write up to its time limit), then lapses.
    await expect(h.store.acquireLock(input.incidentId, "run-next", 60_000)).rejects.toThrow(/being run by run-/);
    await expect(
      h.store.acquireLock(input.incidentId, "run-next", 60_000).catch((e) => e.expiresAt - Date.now()),
    ).resolves.toBeGreaterThan(15 * 60_000);
  });

  it("refuses an item that is not a manifest row, naming the field", async () => {
    const versionId = h.s3.put(BUCKET, "snapshots/bad-item/subs.csv", csvOf(rows));
    const input = executionInput(h, incidentDoc({ incidentId: "bad-item" }), {
      key: "snapshots/bad-item/subs.csv",
      versionId,
    });
    await makePrepare(h.deps)(input, lambdaContext); // writes the manifest the Map's items come from
    const [first] = mapBatches(h, input, 1);
    const bad = { ...first, Items: [{ ...first?.Items[0], start: "x" }] };
    await expect(makeComputeBatch(h.deps)(bad as never, lambdaContext)).rejects.toThrow(
      'manifest item: start: must be a whole number (got "x")',
    );
  });
});

describe("a batch's rejected rows", () => {
  it("go to the run's files, not the batch's item: 2,000 rejects of 128-character CJK ids in one batch complete", async () => {
    // Prepare: one batch of 2,000 rows, every one rejected (a bad fee), each id 128 CJK characters (384 bytes):
    // kept in the batch's DynamoDB item they were 1.3 MB, past the 400 KB item limit DynamoDB Local enforces too.
    const id = (n: number) => `${"日割".repeat(60)}${String(n).padStart(8, "0")}`;
    const bad = Array.from({ length: 2_000 }, (_, i) => row({ subscription_id: id(i), monthly_fee: "abc" }, i));
    const versionId = h.s3.put(BUCKET, "snapshots/rejects/cjk.csv", csvOf(bad));
    const input = executionInput(
      h,
      { ...incident, incidentId: "rejects-cjk" },
      { key: "snapshots/rejects/cjk.csv", versionId },
      { batchSize: 2_000 },
    );

    // Act
    await makePrepare(h.deps)(input, lambdaContext);
    const [child] = mapBatches(h, input, 4);
    await makeComputeBatch(h.deps)(child as never, lambdaContext);
    const ref = { incidentId: input.incidentId, runId: input.runId };
    for (let shard = 0; shard < SHARDS; shard++) await makeShardHandler(h.deps)({ ...ref, shard }, lambdaContext);
    const done = await makeCompleteHandler(h.deps)(ref, lambdaContext);

    // Assess: the batch's record holds counts only; its rejects are one file, and the report joins them in order.
    expect(done.counts).toMatchObject({ rows: 2_000, rejected: 2_000, computed: 0 });
    const [summary] = await h.store.batchesOf(input.incidentId, input.runId);
    expect(Object.keys(summary ?? {}).sort()).toEqual(["batchNo", "counts", "totals"]);
    const prefix = runPrefix(input);
    const batchFile = h.s3.text(BUCKET, `${prefix}rejects/batch-0000001.jsonl`) ?? "";
    const report = h.s3.text(BUCKET, `${prefix}rejects.jsonl`) ?? "";
    expect(report).toBe(batchFile);
    const lines = report
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { line: number; subscriptionId: string });
    expect(lines.map((l) => l.line)).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 2));
    expect(lines[1999]?.subscriptionId).toBe(id(1999));
  });
});
