import { createHash } from "node:crypto";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { lineEventOf } from "../../../shared/events/event-of-change";
import type { RefundLineEventDetail } from "../../../shared/events/refund-events";
import type { StoredLine } from "../../../shared/reconcile/reconcile";
import { keyedLine, storedLine } from "../../helpers/factories";

type Module = typeof import("../../../examples/billing-consumer/sqs-handler");
let consumer: Module;
beforeEach(async () => {
  // A fresh module, so a fresh in-memory ledger, for each test.
  vi.resetModules();
  consumer = await import("../../../examples/billing-consumer/sqs-handler");
});

const line = (version: number, amount: bigint, status: StoredLine["status"] = "active") =>
  storedLine(keyedLine("C-1", amount), version, status, "run-1");

/** An event as the rule delivers it into the queue's message body: EventBridge's whole envelope. */
function eventBridgeEvent(next: StoredLine, previous?: StoredLine) {
  const e = lineEventOf("inc", next, previous);
  return {
    version: "0",
    id: `eb-${e.eventId}`,
    "detail-type": e.detailType,
    source: e.source,
    account: "111122223333",
    time: "2011-12-20T03:00:00Z",
    region: "ap-northeast-1",
    resources: [],
    detail: e.detail as RefundLineEventDetail, // lineEventOf makes line events only
  };
}

const runCompleted = {
  version: "0",
  id: "eb-run",
  "detail-type": "Refund Run Completed",
  source: "hiwari.refunds",
  account: "111122223333",
  time: "2011-12-20T03:00:01Z",
  region: "ap-northeast-1",
  resources: [],
  detail: {
    schemaVersion: "1",
    eventId: "inc#RUN#run-1",
    incidentId: "inc",
    runId: "run-1",
    requestedBy: "ops",
    reason: "test",
    startedAt: "2011-12-20T02:59:00Z",
    completedAt: "2011-12-20T03:00:00Z",
    counts: {
      rows: 1,
      computed: 1,
      skipped: 0,
      rejected: 0,
      calculated: 0,
      adjusted: 1,
      voided: 0,
      unchanged: 0,
    },
    totals: [{ serviceCode: "IMADOKO", currency: "JPY", lines: 1, amount: "13" }],
  },
};

let sequence = 0;
/** An SQS record as Lambda's event source mapping hands it over. */
function sqsRecord(body: string, messageId = `msg-${++sequence}`): SQSRecord {
  return {
    messageId,
    receiptHandle: `AQEB${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "1324350000000",
      SenderId: "AIDAIENQZJOLO23YVJ4VO",
      ApproximateFirstReceiveTimestamp: "1324350000001",
    },
    messageAttributes: {},
    md5OfBody: createHash("md5").update(body).digest("hex"),
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:ap-northeast-1:111122223333:BillingConsumerQueue",
    awsRegion: "ap-northeast-1",
  };
}
const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

const context: Context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: "billing-consumer",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:ap-northeast-1:111122223333:function:billing-consumer",
  memoryLimitInMB: "512",
  awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
  logGroupName: "/aws/lambda/billing-consumer",
  logStreamName: "2011/12/20/[$LATEST]abcdef",
  getRemainingTimeInMillis: () => 30_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};

const calculated = eventBridgeEvent(line(1, 20n));
const adjusted = eventBridgeEvent(line(2, 13n), line(1, 20n));

describe("the example SQS consumer", () => {
  it("posts the deltas of a Calculated and an Adjusted event: the balance is what is owed now", async () => {
    expect([calculated["detail-type"], calculated.detail.delta]).toEqual(["Refund Calculated", "20"]);
    expect([adjusted["detail-type"], adjusted.detail.delta]).toEqual(["Refund Adjusted", "-7"]);
    const response = await consumer.handler(
      sqsEvent(sqsRecord(JSON.stringify(calculated)), sqsRecord(JSON.stringify(adjusted))),
      context,
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(consumer.ledger.balances).toEqual(new Map([["S-1 JPY", 13n]]));
    expect(consumer.ledger.posted).toEqual(new Set(["inc#S#C-1#2011-12-01#1", "inc#S#C-1#2011-12-01#2"]));
  });

  it("applies an eventId once, redelivered in the same batch or a later one", async () => {
    const body = JSON.stringify(calculated);
    // EventBridge delivers at least once: the same event can arrive as several messages, each its own messageId.
    expect(await consumer.handler(sqsEvent(sqsRecord(body), sqsRecord(body)), context)).toEqual({
      batchItemFailures: [],
    });
    expect(await consumer.handler(sqsEvent(sqsRecord(body)), context)).toEqual({ batchItemFailures: [] });
    expect(consumer.ledger.balances).toEqual(new Map([["S-1 JPY", 20n]]));
    expect(consumer.ledger.posted).toEqual(new Set(["inc#S#C-1#2011-12-01#1"]));
  });

  it("fails only the malformed messages (by messageId) and applies the others", async () => {
    const breaksContract = { ...adjusted, detail: { ...adjusted.detail, delta: -7 } }; // a number, not a string
    const badRunCompleted = { ...runCompleted, detail: { ...runCompleted.detail, counts: {} } };
    const response = await consumer.handler(
      sqsEvent(
        sqsRecord(JSON.stringify(calculated), "ok-calculated"),
        sqsRecord("{not json", "bad-json"),
        sqsRecord(JSON.stringify(breaksContract), "bad-contract"),
        sqsRecord(JSON.stringify(runCompleted), "ok-run-completed"),
        sqsRecord(JSON.stringify(badRunCompleted), "bad-run-completed"),
        sqsRecord(JSON.stringify({ ...calculated, source: "someone.else" }), "bad-source"),
      ),
      context,
    );
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: "bad-json" },
        { itemIdentifier: "bad-contract" },
        { itemIdentifier: "bad-run-completed" },
        { itemIdentifier: "bad-source" },
      ],
    });
    expect(consumer.ledger.balances).toEqual(new Map([["S-1 JPY", 20n]]));
    expect(consumer.ledger.posted).toEqual(new Set(["inc#S#C-1#2011-12-01#1"]));

    // Redelivered once fixed (here: the valid Adjusted), it is posted.
    expect(await consumer.handler(sqsEvent(sqsRecord(JSON.stringify(adjusted))), context)).toEqual({
      batchItemFailures: [],
    });
    expect(consumer.ledger.balances).toEqual(new Map([["S-1 JPY", 13n]]));
  });

  it("fails the invocation when every message fails, so the whole batch returns to the queue", async () => {
    await expect(consumer.handler(sqsEvent(sqsRecord("{not json"), sqsRecord("null")), context)).rejects.toThrow(
      /All records failed processing/,
    );
    expect(consumer.ledger.balances.size).toBe(0);
  });
});
