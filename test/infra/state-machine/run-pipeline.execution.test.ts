import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DynamoDBRecord } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { drainStream } from "../../../bin/io/local-stream-reader";
import { EventBridgeBus } from "../../../functions/commons/bus/event-bus";
import { runPrefix, S3RunFiles } from "../../../functions/commons/s3/s3-run-files";
import { publishRecords } from "../../../functions/publish-events/publish-records";
import { RUN_COMPLETED } from "../../../shared/events/event-names";
import { SUBSCRIPTION_COLUMNS } from "../../../shared/input/subscription-row";
import { runIdOf } from "../../../shared/pipeline/run-context";
import { RunLockedError } from "../../../shared/store/refund-store";
import type { AslDefinition, AslState } from "../../helpers/aws/asl-execution";
import { jsonBytes } from "../../helpers/aws/aws-limits";
import { run as computeWithEngine, csvOf, csvWithColumns, incidentDoc, row } from "../../helpers/factories";
import { PipelineWorld, useDeployedStack } from "./deployed-pipeline";
import { holdFunction, lineKey, snapshotRows, storedLines, versions, writesTo } from "./scenario-helpers";

/**
 * The deployed path, executed: the state machine synthesised from infra/ runs under an ASL interpreter, its Tasks
 * invoking the hiwari handlers in process as Lambda would, against DynamoDB Local and fakes of S3, Step Functions
 * and EventBridge that enforce AWS's published limits; every call checked against its caller's IAM policies.
 * Each test stands alone: its own incident, its own fakes (DynamoDB Local is the file's).
 */
const stack = useDeployedStack();
// Whole executions, some of 200 children: minutes on a machine whose cores are busy with other work, not seconds.
vi.setConfig({ testTimeout: 240_000 });

let worlds: PipelineWorld[] = [];
/** A world for one test; after it, no call may have been outside its caller's policies. */
function world(options?: ConstructorParameters<typeof PipelineWorld>[1]) {
  const w = new PipelineWorld(stack(), options);
  worlds.push(w);
  return w;
}
// Also when a test failed first: a call refused by IAM often shows as a failed run, and this names the call.
afterEach(() => {
  const violations = worlds.flatMap((w) => w.log.violations());
  worlds = [];
  expect(violations, "calls outside their caller's IAM policies").toEqual([]);
});

/** A POST /incidents/{id}/runs body for the snapshot in the run bucket, in slices of 100 rows (the API's least). */
const request = (
  w: PipelineWorld,
  incident: { incidentId: string },
  snapshot: { key: string },
  requestId = "req-1",
) => ({
  requestId,
  incident,
  snapshot: { bucket: w.bucket, key: snapshot.key },
  reason: "outage of 2011-12-20",
  batchSize: 100,
});

describe("the run state machine, executed", () => {
  it("runs a first run requested through the API to completion, storing exactly the lines `hiwari compute` gives", async () => {
    // Prepare
    const w = world();
    const incident = incidentDoc({ incidentId: "sm-first", goodwill: { amount: 500, currency: "JPY" } });
    const csv = csvOf(snapshotRows(430));
    const snapshot = w.putSnapshot("snapshots/sm-first.csv", csv);
    const body = request(w, incident, snapshot);

    // Act
    const accepted = await w.postRun(incident.incidentId, body);
    const runId = String(accepted.body.runId);
    const execution = await w.finished(runId);

    // Assess
    expect(accepted.statusCode).toBe(202);
    expect(execution).toMatchObject({ status: "SUCCEEDED", error: undefined });
    const expected = await computeWithEngine(incident, csv);
    const stored = await storedLines(w, incident.incidentId);
    expect(stored.map(lineKey).sort()).toEqual(expected.lines.map(lineKey).sort());
    expect(stored.every((l) => l.version === 1 && l.status === "active" && l.runId === runId)).toBe(true);
    const done = await w.run(incident.incidentId, runId);
    expect(done).toMatchObject({
      status: "completed",
      counts: {
        rows: 430,
        rejected: expected.rejects.length,
        calculated: expected.lines.length,
        adjusted: 0,
        voided: 0,
        unchanged: 0,
      },
    });
    // 430 rows in slices of 100: five manifest rows, four a child: two children, their results in S3.
    const manifest = w.s3.keys(w.bucket, "runs/map-results/").find((k) => k.endsWith("/manifest.json"));
    const results = JSON.parse(w.s3.text(w.bucket, manifest ?? "") ?? "{}") as {
      ResultFiles: { SUCCEEDED: { Key: string }[]; FAILED: unknown[] };
    };
    expect(results.ResultFiles.FAILED).toEqual([]);
    const children = JSON.parse(w.s3.text(w.bucket, results.ResultFiles.SUCCEEDED[0]?.Key ?? "") ?? "[]") as {
      Status: string;
      Output: string;
    }[];
    expect(children.map((c) => [c.Status, c.Output])).toEqual([
      ["SUCCEEDED", "{}"],
      ["SUCCEEDED", "{}"],
    ]);
    // The same request again finds its run: nothing more is started.
    const again = await w.postRun(incident.incidentId, body);
    expect(again).toMatchObject({ statusCode: 200, body: { runId, status: "completed", created: false } });
    expect(w.sfn.executions.size).toBe(1 + 2); // the run and its two Map children
  });

  it("applies contract v2 scope: a first run as `hiwari compute` gives it, then a narrower scope voids exactly what left it", async () => {
    // Prepare: IMADOKO down for "premium" plans only; the apology to every victim active in the window, whatever
    // their service (every fifth row is a mail-only subscription no window names).
    const w = world();
    const scoped = (plans: string[], victims: string[]) =>
      incidentDoc({
        incidentId: "sm-scope",
        suspensions: [
          {
            serviceCode: "IMADOKO",
            start: "2011-12-20T23:30:00+09:00",
            end: "2011-12-22T14:00:00+09:00",
            where: { plan: plans },
          },
        ] as never,
        goodwill: { amount: 200, currency: "JPY", scope: "active", where: { victim: victims } } as never,
      });
    const wide = scoped(["premium", "basic"], ["swapped", "misdelivered"]);
    const narrow = scoped(["premium"], ["swapped"]);
    const rows = snapshotRows(240).map((r, i) => ({
      ...r,
      ...(i % 5 === 4 ? { service_code: "SPMAIL" } : {}),
      plan: i % 2 === 0 ? "premium" : "basic",
      victim: ["swapped", "misdelivered", ""][i % 3] as string,
    }));
    const csv = csvWithColumns([...SUBSCRIPTION_COLUMNS, "plan", "victim"], rows);
    const snapshot = w.putSnapshot("snapshots/sm-scope.csv", csv);
    const first = w.executionInput(wide, snapshot);
    w.startExecution(first);
    await w.finished(first.runId);
    const standing = async () =>
      (await storedLines(w, "sm-scope"))
        .filter((l) => l.status === "active")
        .map(lineKey)
        .sort();
    const expectedWide = (await computeWithEngine(wide, csv)).lines.map(lineKey).sort();
    const firstStanding = await standing();

    // Act
    const rerun = w.executionInput(narrow, snapshot, { requestId: "req-narrow" });
    w.startExecution(rerun);
    const execution = await w.finished(rerun.runId);

    // Assess
    expect(firstStanding).toEqual(expectedWide);
    expect(expectedWide.filter((k) => k.includes("|goodwill|"))).toHaveLength(
      rows.filter((r, i) => i % 3 !== 2 && r.monthly_fee !== "abc" && r.active_to === "").length,
    );
    expect(execution.status).toBe("SUCCEEDED");
    const expectedNarrow = (await computeWithEngine(narrow, csv)).lines.map(lineKey).sort();
    expect(await standing()).toEqual(expectedNarrow);
    const left = expectedWide.filter((k) => !expectedNarrow.includes(k));
    expect(left.length).toBeGreaterThan(100); // basic plans' refunds and the misdelivered's credits
    const done = await w.run("sm-scope", rerun.runId);
    expect(done?.counts).toMatchObject({ calculated: 0, adjusted: 0, voided: left.length });
  });

  it("changes nothing on an identical rerun: every line unchanged, no line written", async () => {
    // Prepare
    const w = world();
    const incident = incidentDoc({ incidentId: "sm-identical" });
    const snapshot = w.putSnapshot("snapshots/sm-identical.csv", csvOf(snapshotRows(24)));
    const first = w.executionInput(incident, snapshot);
    w.startExecution(first);
    await w.finished(first.runId);
    const before = versions(await storedLines(w, incident.incidentId));
    const mark = w.log.mark();

    // Act
    const rerun = w.executionInput(incident, snapshot, { requestId: "req-2" });
    w.startExecution(rerun);
    const execution = await w.finished(rerun.runId);

    // Assess
    expect(execution.status).toBe("SUCCEEDED");
    expect(versions(await storedLines(w, incident.incidentId))).toEqual(before);
    const done = await w.run(incident.incidentId, rerun.runId);
    expect(done?.counts).toMatchObject({ calculated: 0, adjusted: 0, voided: 0, unchanged: before.length });
    // Only the run's own bookkeeping is written to the refunds table: its `Refund Run Completed` change.
    const refunds = w.stack.template.physicalName(w.stack.template.logicalId("RefundsTable"));
    expect(writesTo(w, refunds, mark)).toEqual(["dynamodb:PutItem by RunPipelineCompleteRunFunction"]);
  });

  it("adjusts the changed lines and voids the absent subscriptions' on a corrected rerun", async () => {
    // Prepare
    const w = world();
    const incident = incidentDoc({ incidentId: "sm-corrected" });
    const rows = snapshotRows(24);
    const first = w.executionInput(incident, w.putSnapshot("snapshots/sm-corrected.csv", csvOf(rows)));
    w.startExecution(first);
    await w.finished(first.runId);
    // C-1 and C-2 now pay 620 a month; C-3 and C-4 are gone from the corrected snapshot.
    const corrected = [
      row({ monthly_fee: "620" }, 1),
      row({ monthly_fee: "620" }, 2),
      ...rows.filter((r) => !["C-1", "C-2", "C-3", "C-4"].includes(r.subscription_id ?? "")),
    ];
    const correctedCsv = csvOf(corrected);

    // Act
    const rerun = w.executionInput(incident, w.putSnapshot("snapshots/sm-corrected.csv", correctedCsv), {
      requestId: "req-2",
    });
    w.startExecution(rerun);
    const execution = await w.finished(rerun.runId);

    // Assess
    expect(execution.status).toBe("SUCCEEDED");
    const stored = await storedLines(w, incident.incidentId);
    const expected = await computeWithEngine(incident, correctedCsv);
    expect(
      stored
        .filter((l) => l.status === "active")
        .map(lineKey)
        .sort(),
    ).toEqual(expected.lines.map(lineKey).sort());
    const bySubscription = new Map(stored.map((l) => [l.subscriptionId, l]));
    expect(["C-1", "C-2"].map((s) => bySubscription.get(s)).map((l) => [l?.version, l?.runId])).toEqual([
      [2, rerun.runId],
      [2, rerun.runId],
    ]);
    expect(
      ["C-3", "C-4"].map((s) => bySubscription.get(s)).map((l) => [l?.status, String(l?.amount), l?.version]),
    ).toEqual([
      ["voided", "0", 2],
      ["voided", "0", 2],
    ]);
    expect((await w.run(incident.incidentId, rerun.runId))?.counts).toMatchObject({ adjusted: 2, voided: 2 });
  });

  it("refuses a second run while the first holds the incident's lock: RunLockedError on the second's record", async () => {
    // Prepare: the first run, requested through the API, held at its first batch.
    const w = world();
    const incident = incidentDoc({ incidentId: "sm-lock" });
    const snapshot = w.putSnapshot("snapshots/sm-lock.csv", csvOf(snapshotRows(150)));
    const body = request(w, incident, snapshot);
    const hold = holdFunction(w, "RunPipelineComputeBatchFunction");
    const first = await w.postRun(incident.incidentId, body);
    await hold.reached;

    // Act
    const second = await w.postRun(incident.incidentId, request(w, incident, snapshot, "req-2"));
    const secondRun = String(second.body.runId);
    const refused = await w.sfn.result(w.executionArn(secondRun));
    hold.release();
    const firstRun = String(first.body.runId);
    const completed = await w.finished(firstRun);

    // Assess
    expect([first.statusCode, second.statusCode]).toEqual([202, 202]);
    expect(refused.status).toBe("FAILED");
    const record = await w.run(incident.incidentId, secondRun);
    expect(record?.status).toBe("failed");
    expect(record?.error).toMatch(new RegExp(`^RunLockedError: incident sm-lock is being run by ${firstRun} `));
    // The refused run's failure did not give up the first run's lock: the first one completed.
    expect(completed.status).toBe("SUCCEEDED");
    expect((await w.run(incident.incidentId, firstRun))?.status).toBe("completed");
  });

  it("records an execution stopped mid-Map as failed, through the EndedWithoutCatch rule, and keeps the lock for the drain", async () => {
    // Prepare
    const w = world();
    const incident = incidentDoc({ incidentId: "sm-abort" });
    // 80 rows in slices of 2, four a child: ten children, more than the Map runs at once.
    const input = w.executionInput(incident, w.putSnapshot("snapshots/sm-abort.csv", csvOf(snapshotRows(80))));
    const atOnce = Number(w.machine.maps.ComputeBatches?.MaxConcurrency);
    expect(atOnce).toBeLessThan(10);
    const hold = holdFunction(w, "RunPipelineComputeBatchFunction");
    const arn = w.startExecution(input);
    await hold.reached;

    // Act: StopExecution while the Map's children compute.
    w.sfn.stop(arn);
    hold.release();
    const execution = await w.finished(input.runId);

    // Assess
    expect(execution.status).toBe("ABORTED");
    const change = w.events.events
      .get("default")
      ?.find(
        (e) => (e.detail as { executionArn: string; status: string }).status === "ABORTED" && e.resources[0] === arn,
      );
    expect(change).toMatchObject({
      source: "aws.states",
      "detail-type": "Step Functions Execution Status Change",
      detail: { stateMachineArn: w.machine.arn, name: input.runId, input: JSON.stringify(input) },
    });
    const failRun = w.lambdas.invocations.filter((i) => i.functionName.includes("RunPipelineFailRunFunction"));
    expect(failRun).toEqual([expect.objectContaining({ ok: true })]);
    const record = await w.run(incident.incidentId, input.runId);
    expect(record).toMatchObject({ status: "failed", error: "execution ABORTED" });
    // No child started after the stop, those running were stopped; the batches in flight then finished their
    // writes, so the lock stays for the drain.
    const children = [...w.sfn.executions.values()].filter((e) => e.executionArn.includes("/ComputeBatches:"));
    expect(children.map((c) => c.execution.status)).toEqual(Array.from({ length: atOnce }, () => "ABORTED"));
    await expect(w.store.acquireLock(incident.incidentId, "run-next", 60_000)).rejects.toBeInstanceOf(RunLockedError);
  });

  it("writes no line on a dry run, and completes with the counts a real run would have", async () => {
    // Prepare
    const w = world();
    const incident = incidentDoc({ incidentId: "sm-dry" });
    const csv = csvOf(snapshotRows(24));
    const input = w.executionInput(incident, w.putSnapshot("snapshots/sm-dry.csv", csv), { dryRun: true });
    const mark = w.log.mark();

    // Act
    w.startExecution(input);
    const execution = await w.finished(input.runId);

    // Assess
    expect(execution.status).toBe("SUCCEEDED");
    expect(await storedLines(w, incident.incidentId)).toEqual([]);
    const refunds = w.stack.template.physicalName(w.stack.template.logicalId("RefundsTable"));
    expect(writesTo(w, refunds, mark)).toEqual([]);
    const expected = await computeWithEngine(incident, csv);
    expect((await w.run(incident.incidentId, input.runId))?.counts).toMatchObject({
      calculated: expected.lines.length,
      rejected: expected.rejects.length,
    });
    expect(w.s3.keys(w.bucket, `${runPrefix(input)}dry-run/`).length).toBeGreaterThan(0);
  });

  it("fails the run with a failed child's own error on its record, not only the Map's", async () => {
    // Prepare: a snapshot not pinned to a version, replaced after prepare surveyed it.
    const w = world();
    const incident = incidentDoc({ incidentId: "sm-child-fails" });
    const rows = snapshotRows(24);
    const snapshot = w.putSnapshot("snapshots/sm-child-fails.csv", csvOf(rows));
    const input = w.executionInput(incident, { key: snapshot.key });
    let replaced = false;
    w.lambdas.beforeInvoke = (fn) => {
      if (replaced || !fn.logicalId.startsWith("RunPipelineComputeBatchFunction")) return;
      replaced = true;
      w.putSnapshot(snapshot.key, csvOf([row({ monthly_fee: "999" }, 1), ...rows.slice(1)]));
    };

    // Act
    w.startExecution(input);
    const execution = await w.finished(input.runId);

    // Assess
    expect(execution.status).toBe("FAILED");
    const record = await w.run(incident.incidentId, input.runId);
    expect(record?.status).toBe("failed");
    expect(record?.error).toMatch(
      /SnapshotChangedError: .*batch \d+: the bytes \d+–\d+ are not those the run was prepared from/,
    );
    expect(record?.error).toMatch(/States\.ExceedToleratedFailureThreshold/);
    // The Map's ResultWriter kept the child's error too.
    const failed = w.s3.keys(w.bucket, "runs/map-results/").filter((k) => k.endsWith("/FAILED_0.json"));
    const entries = failed.flatMap((k) => JSON.parse(w.s3.text(w.bucket, k) ?? "[]") as { Error?: string }[]);
    expect(entries.map((e) => e.Error)).toContain("SnapshotChangedError");
  });

  it("runs an incident of about 300 KB requested through the API: it travels by reference, not in the execution's input", async () => {
    // Prepare: a valid incident padded with the same window, many times over (the windows merge into one).
    const w = world();
    const window = { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" };
    const incident = incidentDoc({ incidentId: "sm-large", suspensions: Array.from({ length: 3_600 }, () => window) });
    expect(jsonBytes(incident)).toBeGreaterThan(300_000);
    const csv = csvOf(snapshotRows(30));
    const snapshot = w.putSnapshot("snapshots/sm-large.csv", csv);

    // Act
    const accepted = await w.postRun(incident.incidentId, request(w, incident, snapshot));

    // Assess: accepted and run to completion. With the incident inline, StartExecution would refuse the input
    // (over 256 KiB: ValidationException) and start-run answer a 5xx.
    expect(accepted.statusCode, JSON.stringify(accepted.body)).toBe(202);
    const runId = String(accepted.body.runId);
    const execution = await w.finished(runId);
    expect(execution.status).toBe("SUCCEEDED");
    const started = w.sfn.executions.get(w.executionArn(runId));
    expect(Buffer.byteLength(started?.input ?? "")).toBeLessThan(4_096);
    expect(JSON.parse(started?.input ?? "{}")).toMatchObject({
      incident: { bucket: w.bucket, key: expect.stringMatching(/\/incident\.json$/), sha256: expect.any(String) },
    });
    const expected = await computeWithEngine(incident, csv);
    expect((await storedLines(w, incident.incidentId)).map(lineKey).sort()).toEqual(expected.lines.map(lineKey).sort());
  });
});

describe("the run's events", () => {
  it("go to the bus through PutEvents as the publisher's role, within its limits: one per line, then the run's", async () => {
    // Prepare: a completed run, and its changes in the refunds table's stream.
    const w = world();
    const incident = incidentDoc({ incidentId: "sm-events" });
    const input = w.executionInput(incident, w.putSnapshot("snapshots/sm-events.csv", csvOf(snapshotRows(40))));
    w.startExecution(input);
    await w.finished(input.runId);
    const { template, db } = w.stack;
    const publisher = template.functions().find((f) => f.logicalId.startsWith("RefundEventsPublishEventsFunction"));
    if (!publisher) throw new Error("no publisher in the template");
    const busName = publisher.environment.EVENT_BUS_NAME ?? "";
    const bus = new EventBridgeBus(
      w.events.clientFor({ roleId: publisher.roleId, actor: publisher.logicalId }),
      busName,
    );
    const mine = (r: DynamoDBRecord) => r.dynamodb?.NewImage?.incidentId?.S === incident.incidentId;
    const checkpoint = join(mkdtempSync(join(tmpdir(), "hiwari-stream-")), "checkpoint.json");

    // Act: the stream fed to the publisher as the event source mapping feeds it (other incidents' records skipped).
    const drained = await drainStream(
      db.endpoint,
      template.physicalName(template.logicalId("RefundsTable")),
      checkpoint,
      async (records) =>
        (await publishRecords(records.filter(mine), bus, { budgetMs: 5_000, baseDelayMs: 1, maxDelayMs: 10 })).failed,
    );

    // Assess
    expect(drained.failed).toBe(0);
    const events = (w.events.events.get(busName) ?? []).filter(
      (e) => (e.detail as { incidentId?: string }).incidentId === incident.incidentId,
    );
    const lines = await storedLines(w, incident.incidentId);
    expect(
      events
        .filter((e) => e["detail-type"] === "Refund Calculated")
        .map((e) => (e.detail as { eventId: string }).eventId)
        .sort(),
    ).toEqual(lines.map((l) => `${l.lineId}#1`).sort());
    expect(events.filter((e) => e["detail-type"] === RUN_COMPLETED)).toHaveLength(1);
    const puts = w.log.calls.filter((c) => c.action === "events:PutEvents");
    expect(puts.length).toBeGreaterThanOrEqual(Math.ceil(events.length / 10));
  });
});

describe("the run's files", () => {
  it("uploads a reject report larger than a part as complete-run's role: parts of 5 MiB at least, aborted on failure", async () => {
    // Prepare: complete-run's S3 client, on a run's files.
    const w = world();
    const complete = w.stack.template.functions().find((f) => f.logicalId.startsWith("RunPipelineCompleteRunFunction"));
    if (!complete) throw new Error("no complete-run in the template");
    const s3 = w.s3.clientFor({ roleId: complete.roleId, actor: complete.logicalId });
    const files = new S3RunFiles(
      s3,
      w.bucket,
      runPrefix({ incidentId: "sm-report", runId: "run-00000000000000000001" }),
    );
    const MiB = 1024 * 1024;
    async function* report(mebibytes: number, fail = false) {
      for (let i = 0; i < mebibytes; i++) yield `${"r".repeat(MiB - 1)}\n`;
      if (fail) throw new Error("a batch's rejects could not be read");
    }
    const mark = w.log.mark();

    // Act
    await files.putStream("rejects.jsonl", report(18));
    const failed = files.putStream("rejects-2.jsonl", report(9, true));

    // Assess
    await expect(failed).rejects.toThrow("a batch's rejects could not be read");
    expect(w.s3.text(w.bucket, files.keyOf("rejects.jsonl"))?.length).toBe(18 * MiB);
    expect(w.s3.keys(w.bucket, files.keyOf("rejects-2"))).toEqual([]);
    expect(w.s3.openUploads()).toEqual([]);
    expect(w.log.since(mark).map((c) => c.operation)).toEqual([
      "CreateMultipartUploadCommand",
      "UploadPartCommand",
      "UploadPartCommand",
      "UploadPartCommand",
      "CompleteMultipartUploadCommand",
      "CreateMultipartUploadCommand",
      "UploadPartCommand",
      "AbortMultipartUploadCommand",
    ]);
  });
});

describe("the Distributed Map's results and the payload limit", () => {
  /** 200 children: a run of 800 one-row slices, four a child. Their outputs (`{}` each) add up to 601 bytes. */
  const manyChildren = (w: PipelineWorld, incidentId: string) => {
    const incident = incidentDoc({ incidentId });
    const snapshot = w.putSnapshot(`snapshots/${incidentId}.csv`, csvOf(snapshotRows(800)));
    return w.executionInput(incident, snapshot, { batchSize: 1 });
  };
  /** The definition without the ComputeBatches Map's ResultWriter: its results would be the Map's output. */
  const withoutResultWriter = (definition: AslDefinition): AslDefinition => {
    const { ResultWriter: _dropped, ...map } = definition.States.ComputeBatches as AslState;
    return { ...definition, States: { ...definition.States, ComputeBatches: map } };
  };
  const limits = { distributedMapResultBytes: 512 };

  it("completes 200 children past a Map result limit scaled down to 512 bytes: the results go to S3", async () => {
    // Prepare
    const w = world({ limits });
    const input = manyChildren(w, "sm-results");

    // Act
    w.startExecution(input);
    const execution = await w.finished(input.runId);

    // Assess
    expect(execution.status).toBe("SUCCEEDED");
    const children = [...w.sfn.executions.keys()].filter((arn) => arn.includes("/ComputeBatches:"));
    expect(children).toHaveLength(200);
    expect((await w.run(input.incidentId, input.runId))?.status).toBe("completed");
  });

  it("fails the same Map with States.DataLimitExceeded once its ResultWriter is removed", async () => {
    // Prepare
    const w = world({ limits, change: withoutResultWriter });
    const input = manyChildren(w, "sm-no-writer");

    // Act
    w.startExecution(input);
    const execution = await w.finished(input.runId);

    // Assess: no Catch applies (States.ALL does not match States.DataLimitExceeded): the execution fails.
    expect(execution).toMatchObject({
      status: "FAILED",
      error: "States.DataLimitExceeded",
      cause: expect.stringContaining("the results of ComputeBatches (200 children) is 601 bytes"),
    });
  });

  it("records on the run an execution that fails where no Catch applies (States.DataLimitExceeded)", async () => {
    // Prepare: a payload limit the execution's input fits, but not Prepare's output (its input and result).
    const w = world({ limits: { payloadBytes: 1_200 } });
    const incident = incidentDoc({ incidentId: "sm-uncaught" });
    const input = w.executionInput(incident, w.putSnapshot("snapshots/sm-uncaught.csv", csvOf(snapshotRows(4))));
    expect(jsonBytes(input)).toBeLessThan(1_200);

    // Act
    w.startExecution(input);
    const execution = await w.finished(input.runId);

    // Assess
    expect(execution).toMatchObject({ status: "FAILED", error: "States.DataLimitExceeded" });
    // The rule EndedWithoutCatch sends its FAILED status change to fail-run, which records it.
    expect(await w.run(incident.incidentId, input.runId)).toMatchObject({
      status: "failed",
      error: expect.stringContaining("States.DataLimitExceeded"),
    });
  });
});

describe("StartExecution as start-run meets it", () => {
  it("refuses a run id that is not a valid execution name, and an input over 256 KiB", async () => {
    const w = world();
    const incident = incidentDoc({ incidentId: "sm-names" });
    const input = w.executionInput(incident, w.putSnapshot("snapshots/sm-names.csv", csvOf(snapshotRows(2))));
    expect(() => w.startExecution(input, "x".repeat(81))).toThrow(/Member must have length less than or equal to 80/);
    expect(() => w.startExecution(input, "run 1")).toThrow(expect.objectContaining({ name: "InvalidName" }));
    expect(() => w.startExecution({ ...input, reason: "r".repeat(262_144) })).toThrow(
      expect.objectContaining({ name: "ValidationException" }),
    );
    expect(runIdOf(incident.incidentId, "req-1")).toMatch(/^[0-9A-Za-z_-]{1,80}$/);
    expect(w.sfn.executions.size).toBe(0);
  });
});
