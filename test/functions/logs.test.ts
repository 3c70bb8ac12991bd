import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { APIGatewayProxyEvent, Context, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { drainStream } from "../../bin/io/local-stream-reader";
import { maskId, maskIdentifiers } from "../../functions/commons/powertools/mask-identifiers";
import { logger } from "../../functions/commons/powertools/powertools";
import { makeHandler as makeComputeBatch } from "../../functions/compute-batch/handler";
import { makeCompleteHandler, makeFailHandler, makeShardHandler } from "../../functions/finalize-run/handler";
import { makeHandler as makePrepare } from "../../functions/prepare-run/handler";
import { handler as publishEvents } from "../../functions/publish-events/handler";
import { makeHandler as makeRunsApi } from "../../functions/runs-api/handler";
import { makeHandler as makeStartRun } from "../../functions/start-run/handler";
import type { ExecutionInput } from "../../shared/api/run-request";
import { SHARDS } from "../../shared/store/refund-store";
import { csvOf, incidentDoc, type Row, row } from "../helpers/factories";
import { BUCKET, executionInput, lambdaContext, mapBatches, TABLES, useHarness } from "../helpers/pipeline-harness";

/**
 * What a deployment's logs would hold after a real run, and its failures: every handler driven as on AWS (DynamoDB
 * Local, S3 in memory, Step Functions' and EventBridge's answers), with Powertools as verbose as a deployment can
 * make it, and every byte written to stdout and stderr kept. No subscription or subscriber id of the snapshots
 * may appear in it.
 */

// Before any handler module builds its Powertools (vitest.config.ts makes them SILENT): the most verbose settings
// a deployment could choose. TRACE, the invocation event logged (POWERTOOLS_LOGGER_LOG_EVENT), metrics printed.
const settings = vi.hoisted(() => {
  const wanted: Record<string, string | undefined> = {
    POWERTOOLS_LOG_LEVEL: "TRACE",
    POWERTOOLS_LOGGER_LOG_EVENT: "true",
    POWERTOOLS_METRICS_DISABLED: "false",
    EVENT_BUS_NAME: "hiwari-test-bus",
    PARKED_QUEUE_URL: "https://sqs.ap-northeast-1.amazonaws.com/123456789012/hiwari-dlq",
    // The logger's own console on process.stdout/stderr, as in Lambda (POWERTOOLS_DEV would use vitest's console).
    POWERTOOLS_DEV: undefined,
  };
  const before = Object.fromEntries(Object.keys(wanted).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(wanted)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return { before };
});
afterAll(() => {
  for (const [k, v] of Object.entries(settings.before)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const h = useHarness();

/** Ids that cannot be met by chance in a log line: each subscription and subscriber of the snapshots below. */
const subscription = (n: number) => `SBSC-${n}-QZ7`;
const subscriber = (n: number) => `MSISDN-0907000${n}-QZ7`;
const subscriptionRow = (n: number, fields: Row = {}) =>
  row({ subscription_id: subscription(n), subscriber_id: subscriber(n), ...fields }, n);
const IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((n) => [subscription(n), subscriber(n)]);

const incident = incidentDoc({
  incidentId: "leak-check-2011-12",
  goodwill: { amount: 100, currency: "JPY" },
} as never);

/** Everything written to stdout and stderr while the scenario ran, as written. */
const written: string[] = [];
/** Every answer of the API and every run record's error: not logged, but they must not need masking either. */
const answers: string[] = [];
/** The events EventBridge accepted: they carry the ids (the pipeline did see them). */
const published: PutEventsRequestEntry[] = [];

/** An error thrown by a handler, as the Node.js Lambda runtime logs it and Step Functions' Catch receives it. */
const causeOf = (e: Error) =>
  JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: (e.stack ?? "").split("\n") });

/** Invokes a handler as Lambda does: an error it throws is logged by the runtime ("Invoke Error") and rethrown. */
async function invoke<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
  event: E,
  context: Context = lambdaContext,
): Promise<R> {
  try {
    return await handler(event, context);
  } catch (e) {
    written.push(`ERROR\tInvoke Error \t${causeOf(e as Error)}\n`);
    throw e;
  }
}

/** Step Functions' StartExecution: records the input of each run start-run starts. */
const sfn = new SFNClient({ region: "ap-northeast-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
const executions = new Map<string, ExecutionInput>();
mockClient(sfn)
  .on(StartExecutionCommand)
  .callsFake((request) => {
    executions.set(request.name as string, JSON.parse(request.input as string));
    return { executionArn: `arn:aws:states:ap-northeast-1:123456789012:execution:runs:${request.name}` };
  });

/** EventBridge's PutEvents, for every EventBridgeClient: accepts every entry, or refuses all while `throttled`. */
let throttled = false;
mockClient(EventBridgeClient)
  .on(PutEventsCommand)
  .callsFake((request: { Entries?: PutEventsRequestEntry[] }) => {
    const entries = request.Entries ?? [];
    if (!throttled) published.push(...entries);
    return {
      FailedEntryCount: throttled ? entries.length : 0,
      Entries: entries.map((_, i) =>
        throttled ? { ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" } : { EventId: `event-${i}` },
      ),
    };
  });

/** The dead-letter queue where publish-events parks poison records (SQS SendMessage). */
const parkedMessages: string[] = [];
mockClient(SQSClient)
  .on(SendMessageCommand)
  .callsFake((request: { MessageBody?: string }) => {
    parkedMessages.push(request.MessageBody ?? "");
    return { MessageId: `m-${parkedMessages.length}`, MD5OfMessageBody: "x" };
  });

const startRun = makeStartRun(async () => ({
  store: h.store,
  s3: h.s3.client,
  filesOf: h.deps().filesOf,
  sfn,
  stateMachineArn: "arn:aws:states:ap-northeast-1:123456789012:stateMachine:runs",
  snapshotBucket: BUCKET,
}));

/** `POST /incidents/{id}/runs` as API Gateway's proxy integration delivers it, signed by finance. */
async function post(body: unknown, incidentId = incident.incidentId) {
  const event = {
    httpMethod: "POST",
    resource: "/incidents/{incidentId}/runs",
    pathParameters: { incidentId },
    body: typeof body === "string" ? body : JSON.stringify(body),
    requestContext: { identity: { userArn: "arn:aws:iam::123456789012:user/finance" } },
  } as unknown as APIGatewayProxyEvent;
  const answer = await invoke(startRun, event);
  answers.push(answer.body);
  return { status: answer.statusCode, body: JSON.parse(answer.body) };
}

async function get(pathParameters: Record<string, string>) {
  const event = { httpMethod: "GET", pathParameters, body: null } as unknown as APIGatewayProxyEvent;
  const answer = await invoke(
    makeRunsApi(async () => h.store),
    event,
  );
  answers.push(answer.body);
  return answer.statusCode;
}

const request = (requestId: string, key: string, extra: Record<string, unknown> = {}) => ({
  requestId,
  incident,
  snapshot: { bucket: BUCKET, key },
  reason: "leak check",
  batchSize: 100,
  ...extra,
});

/** The state machine's Catch: the error a step threw, to fail-run, which records it and releases the lock. */
async function failed(input: ExecutionInput, error: Error) {
  await invoke(makeFailHandler(h.deps, 0), {
    incidentId: input.incidentId,
    runId: input.runId,
    error: { Error: error.name, Cause: causeOf(error) },
  });
  return error;
}

/** The state machine's path: prepare, every child of the Map, every shard, complete. */
async function runPipeline(input: ExecutionInput, tamper?: (item: Record<string, string>) => void) {
  try {
    await invoke(makePrepare(h.deps), input);
    for (const batch of mapBatches(h, input, 1)) {
      for (const item of batch.Items) tamper?.(item as Record<string, string>);
      await invoke(makeComputeBatch(h.deps), batch);
    }
    for (let shard = 0; shard < SHARDS; shard++)
      await invoke(makeShardHandler(h.deps), { incidentId: input.incidentId, runId: input.runId, shard });
    await invoke(makeCompleteHandler(h.deps), { incidentId: input.incidentId, runId: input.runId });
  } catch (e) {
    return failed(input, e as Error);
  }
}

/** publish-events' invocation 21 s from its time limit: it retries refused entries for 1 s (not 40), then reports. */
const nearItsEnd = { ...lambdaContext, getRemainingTimeInMillis: () => 21_000 } as Context;

/** The refunds table's stream to publish-events, as the event source mapping feeds it (from where it stopped). */
const checkpoints = mkdtempSync(join(tmpdir(), "hiwari-logs-"));
const publish = () =>
  drainStream(h.db.endpoint, TABLES.refunds, join(checkpoints, "checkpoint.json"), async (records) => {
    const answer = await invoke(publishEvents, { Records: records } as DynamoDBStreamEvent, nearItsEnd);
    return (answer.batchItemFailures ?? []).map((f) => f.itemIdentifier);
  });

/** A stream record that is no refund line publish-events knows: a poison record. */
const poison = (seq: string, image: Record<string, { S: string }>): DynamoDBRecord => ({
  eventID: `poison-${seq}`,
  eventName: "INSERT",
  eventSource: "aws:dynamodb",
  dynamodb: { SequenceNumber: seq, NewImage: image as never, StreamViewType: "NEW_AND_OLD_IMAGES" },
});

let poisonAnswer: { batchItemFailures: { itemIdentifier: string }[] };
let capture: { mockRestore(): void }[] = [];

beforeAll(async () => {
  const keep = (chunk: unknown) => {
    written.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return true;
  };
  capture = [
    vi.spyOn(process.stdout, "write").mockImplementation(keep),
    vi.spyOn(process.stderr, "write").mockImplementation(keep),
  ];
  try {
    // The first run: good rows, a row with a bad fee, two rows that share a subscription id (both rejected).
    const first = [1, 2, 3, 4, 5, 6].map((n) => subscriptionRow(n));
    first.push(subscriptionRow(7, { monthly_fee: "12x" }));
    first.push(subscriptionRow(8), subscriptionRow(9, { subscription_id: subscription(8) }));
    h.s3.put(BUCKET, "snapshots/leak/a.csv", csvOf(first));
    const a = await post(request("req-a", "snapshots/leak/a.csv"));
    await runPipeline(executions.get(a.body.runId) as ExecutionInput);
    await publish();

    // A corrected rerun: one fee changed (adjusted), one subscription gone (voided), the bad row still bad. Billing's
    // bus throttles it at first: records not published, reported as batch item failures, then published.
    const second = first.filter((r) => r.subscription_id !== subscription(2));
    second[0] = subscriptionRow(1, { monthly_fee: "310" });
    h.s3.put(BUCKET, "snapshots/leak/b.csv", csvOf(second));
    const b = await post(request("req-b", "snapshots/leak/b.csv"));
    await runPipeline(executions.get(b.body.runId) as ExecutionInput);
    throttled = true;
    await publish();
    throttled = false;
    await publish();

    // Refused: the same request id with other inputs; a body that is no request; another incident's path.
    await post(request("req-b", "snapshots/leak/b.csv", { dryRun: true }));
    await post("{not json");
    await post(request("req-x", "elsewhere/a.csv", { incident: { ...incident, timeZone: "Mars/Olympus" } }));
    await post(request("req-y", "snapshots/leak/a.csv"), "another-incident");

    // A failed run: a rerun's snapshot with a row whose subscription cannot be read for sure (prepare refuses it);
    // then the same request again, refused because its run failed.
    h.s3.put(BUCKET, "snapshots/leak/c.csv", `${csvOf(second)}${subscription(3)},"${subscriber(3)},IMADOKO,210\n`);
    const c = await post(request("req-c", "snapshots/leak/c.csv"));
    await runPipeline(executions.get(c.body.runId) as ExecutionInput);
    await post(request("req-c", "snapshots/leak/c.csv"));

    // A run whose batch finds the snapshot other than prepare surveyed it, and fails.
    const dVersion = h.s3.put(BUCKET, "snapshots/leak/d.csv", csvOf(second));
    const d = executionInput(h, incident, { key: "snapshots/leak/d.csv", versionId: dVersion }, { requestId: "req-d" });
    await runPipeline(d, (item) => {
      item.sha256 = "0".repeat(64);
    });

    // A run refused because another holds the incident, and the holder stopped by an operator (the rule's event).
    const e = executionInput(h, incident, { key: "snapshots/leak/d.csv", versionId: dVersion }, { requestId: "req-e" });
    await invoke(makePrepare(h.deps), e);
    const f = executionInput(h, incident, { key: "snapshots/leak/d.csv", versionId: dVersion }, { requestId: "req-f" });
    await invoke(makePrepare(h.deps), f).catch((error: Error) => failed(f, error));
    await invoke(makeFailHandler(h.deps, 0), {
      "detail-type": "Step Functions Execution Status Change",
      detail: { status: "ABORTED", input: JSON.stringify(e), cause: "stopped by an operator", error: null },
    });

    // Poison records on the stream: an item of no known kind, and a line item without its fields.
    poisonAnswer = await invoke(
      publishEvents,
      {
        Records: [
          poison("9001", {
            kind: { S: "MYSTERY" },
            subscriptionId: { S: subscription(4) },
            subscriberId: { S: subscriber(4) },
          }),
          poison("9002", { kind: { S: "LINE" }, lineId: { S: `${incident.incidentId}#S#${subscription(5)}` } }),
        ],
      } as DynamoDBStreamEvent,
      nearItsEnd,
    );

    // Finance reads the runs, one of them, and one that does not exist.
    await get({ incidentId: incident.incidentId });
    await get({ incidentId: incident.incidentId, runId: c.body.runId });
    await get({ incidentId: incident.incidentId, runId: "run-none" });
    for (const run of await h.store.listRuns(incident.incidentId)) answers.push(run.error ?? "");
  } finally {
    for (const spy of capture) spy.mockRestore();
  }
}, 300_000);

afterAll(() => rmSync(checkpoints, { recursive: true, force: true }));

const lines = () => written.join("").split("\n").filter(Boolean);
const logged = (message: string) => lines().filter((l) => l.includes(`"message":"${message}"`));

describe("the logs of a run, its rerun and their failures, at the most verbose settings", () => {
  it("were written at TRACE, with metrics, by every step, and the failures were logged", () => {
    expect(logger.getLevelName()).toBe("TRACE");
    for (const message of ["run started", "run prepared", "batches computed", "shard finalized"])
      expect(logged(message).length, message).toBeGreaterThan(0);
    expect(logged("run completed")).toHaveLength(2);
    expect(logged("run failed")).toHaveLength(4); // c (unsafe), d (changed), f (locked), e (stopped)
    expect(logged("records not published; reported as batch item failures").length).toBeGreaterThan(0);
    expect(logged("poison stream records parked in the dead-letter queue: see docs/operations.md")).toHaveLength(1);
    // The runtime's lines for what the handlers threw, and Powertools' metrics (EMF, on stdout).
    expect(
      lines()
        .filter((l) => l.startsWith("ERROR\tInvoke Error"))
        .map((l) => JSON.parse(l.split("\t")[2] as string).errorType),
    ).toEqual(["UnsafeSnapshotError", "SnapshotChangedError", "RunLockedError"]);
    expect(lines().some((l) => l.includes('"_aws":{') && l.includes('"RowsRejected"'))).toBe(true);
  });

  it("ran on the subscribers' data: their ids are in the events billing received and in the run's rejects", () => {
    const details = published.map((e) => e.Detail ?? "").join("\n");
    for (const n of [1, 3, 4, 5, 6]) expect(details).toContain(subscription(n));
    expect(details).toContain(subscriber(2)); // its line voided
    // The poison records were parked whole in the dead-letter queue (not retried), ids and all.
    expect(poisonAnswer.batchItemFailures).toEqual([]);
    expect(parkedMessages.map((m) => JSON.parse(m).record.eventID)).toEqual(["poison-9001", "poison-9002"]);
    expect(parkedMessages.join("")).toContain(subscription(4));
    const rejects = h.s3
      .keys(BUCKET)
      .filter((k) => k.endsWith("rejects.jsonl"))
      .map((k) => h.s3.text(BUCKET, k))
      .join("");
    expect(rejects).toContain(subscription(7));
    expect(rejects).toContain(subscription(8));
  });

  it("hold no subscription or subscriber id", () => {
    const leaks = lines().filter((l) => IDS.some((id) => l.includes(id)));
    expect(leaks).toEqual([]);
  });

  it("never print the invocation event, whatever POWERTOOLS_LOGGER_LOG_EVENT says", () => {
    expect(process.env.POWERTOOLS_LOGGER_LOG_EVENT).toBe("true");
    expect(logged("Lambda invocation event")).toEqual([]);
  });

  it("nor do the API's answers and the runs' recorded errors (which Step Functions' error logs may show)", () => {
    expect(answers.filter((a) => a.includes("failed"))).not.toEqual([]);
    expect(answers.filter((a) => IDS.some((id) => a.includes(id)))).toEqual([]);
  });
});

describe("masking (docs/security.md)", () => {
  it("keeps the last two characters of an id, and nothing of a short one", () => {
    expect(maskId("MSISDN-09070001234")).toBe("***34");
    expect(maskId("C-12345")).toBe("***45");
    expect(maskId("C-123")).toBe("***");
    expect(maskId("")).toBe("***");
  });

  it("masks every attribute named like an id, at any depth, and leaves the rest", () => {
    const line = {
      lineId: "inc#S#SBSC-1-QZ7#2011-12-01",
      subscriptionId: "SBSC-1-QZ7",
      subscriber_id: "MSISDN-09070001-QZ7",
      detail: { eventId: "inc#S#SBSC-1-QZ7#2011-12-01#2", subscriptionIds: ["SBSC-1-QZ7", 7], amount: "20" },
      runId: "run-1",
      line: 4,
    };
    expect(JSON.parse(JSON.stringify(line, maskIdentifiers))).toEqual({
      lineId: "***01",
      subscriptionId: "***Z7",
      subscriber_id: "***Z7",
      detail: { eventId: "***#2", subscriptionIds: ["***Z7", "***"], amount: "20" },
      runId: "run-1",
      line: 4,
    });
    // Keys, items, stream images, a queue message and an event's Detail as sent hold ids inside: masked whole.
    const call = {
      Key: { pk: { S: "inc#S#SBSC-1-QZ7" }, sk: { S: "L#2011-12-01" } },
      pk: "inc#S#SBSC-1-QZ7",
      NewImage: { subscriptionId: { S: "SBSC-1-QZ7" } },
      Items: [{ lineId: { S: "x" } }],
      MessageBody: '{"record":{"subscriptionId":"SBSC-1-QZ7"}}',
      Entries: [{ Detail: '{"subscriptionId":"SBSC-1-QZ7"}', DetailType: "Refund Calculated" }],
    };
    expect(JSON.parse(JSON.stringify(call, maskIdentifiers))).toEqual({
      Key: "***",
      pk: "***",
      NewImage: "***",
      Items: "***",
      MessageBody: "***",
      Entries: [{ Detail: "***", DetailType: "Refund Calculated" }],
    });
  });

  it("is what the functions' logger writes", () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    try {
      logger.info("a line", {
        line: { subscriptionId: "SBSC-1-QZ7", subscriberId: "MSISDN-09070001-QZ7", amount: 20n },
      });
    } finally {
      spy.mockRestore();
    }
    expect(JSON.parse(out.join(""))).toMatchObject({
      message: "a line",
      line: { subscriptionId: "***Z7", subscriberId: "***Z7", amount: "20" },
    });
  });
});
