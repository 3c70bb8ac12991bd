import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { DynamoDBRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { EventBridgeBus, type EventBus } from "../../../functions/commons/bus/event-bus";
import { toItem } from "../../../functions/commons/dynamodb/line-item";
import { retryBudgetMs } from "../../../functions/publish-events/handler";
import { eventOfRecord, publishRecords } from "../../../functions/publish-events/publish-records";
import type { BusEvent } from "../../../shared/events/event-of-change";
import { RefundLineEvent } from "../../../shared/events/refund-events";
import type { StoredLine } from "../../../shared/reconcile/reconcile";
import { keyedLine, storedLine } from "../../helpers/factories";

const line = (version: number, amount: bigint, status: StoredLine["status"] = "active") =>
  storedLine(keyedLine("C-1", amount), version, status, "run-1");

/** A stream record in the shape Lambda delivers (NEW_AND_OLD_IMAGES). */
function record(seq: string, next: StoredLine, previous?: StoredLine): DynamoDBRecord {
  return {
    eventID: `e${seq}`,
    eventName: previous ? "MODIFY" : "INSERT",
    eventSource: "aws:dynamodb",
    dynamodb: {
      SequenceNumber: seq,
      NewImage: toItem("inc", next, "2026-11-25T00:00:00Z") as never,
      OldImage: previous ? (toItem("inc", previous, "2026-11-25T00:00:00Z") as never) : undefined,
      StreamViewType: "NEW_AND_OLD_IMAGES",
    },
  };
}

/** A bus that refuses the events named in `refuse` the first `times` times it sees them. */
function flakyBus(refuse: Set<string>, times: number): EventBus & { calls: BusEvent[][]; accepted: BusEvent[] } {
  const seen = new Map<string, number>();
  const bus = {
    calls: [] as BusEvent[][],
    accepted: [] as BusEvent[],
    async put(events: readonly BusEvent[]) {
      bus.calls.push([...events]);
      const failed: BusEvent[] = [];
      for (const e of events) {
        const n = (seen.get(e.eventId) ?? 0) + 1;
        seen.set(e.eventId, n);
        if (refuse.has(e.eventId) && n <= times) failed.push(e);
        else bus.accepted.push(e);
      }
      return { retry: failed, refused: [] };
    },
  };
  return bus;
}

describe("eventOfRecord", () => {
  it("maps a change to the contract's event, valid against the published schema", () => {
    const event = eventOfRecord(record("1", line(2, 13n), line(1, 20n)));
    expect(event?.detailType).toBe("Refund Adjusted");
    expect(event?.detail).toMatchObject({
      eventId: "inc#S#C-1#2011-12-01#2",
      amount: "13",
      previousAmount: "20",
      delta: "-7",
    });
    const envelope = {
      version: "0",
      id: "x",
      "detail-type": event?.detailType,
      source: event?.source,
      time: "t",
      detail: event?.detail,
    };
    expect(RefundLineEvent.safeParse(envelope).success).toBe(true);
  });

  it("gives a redelivered record the same eventId", () => {
    const r = record("1", line(1, 20n));
    expect(eventOfRecord(r)?.eventId).toBe(eventOfRecord(structuredClone(r))?.eventId);
  });

  it("names voids and lines that come back", () => {
    expect(eventOfRecord(record("1", line(2, 0n, "voided"), line(1, 20n)))?.detailType).toBe("Refund Voided");
    expect(eventOfRecord(record("2", line(3, 20n), line(2, 0n, "voided")))?.detail).toMatchObject({
      previousAmount: "0",
      delta: "20",
    });
  });

  it("emits nothing for a write that changed nothing", () => {
    expect(eventOfRecord(record("1", line(1, 20n), line(1, 20n)))).toBeUndefined();
  });
});

describe("publishRecords", () => {
  const records = Array.from({ length: 23 }, (_, i) =>
    record(String(i + 1), { ...line(1, 20n), lineId: `inc#S#C-${i}#2011-12-01` }),
  );

  it("puts at most 10 events a call and retries only the entries that failed", async () => {
    const bus = flakyBus(new Set(["inc#S#C-3#2011-12-01#1", "inc#S#C-17#2011-12-01#1"]), 1);
    const result = await publishRecords(records, bus, { budgetMs: 1_000, baseDelayMs: 1, maxDelayMs: 4 });
    expect(result).toEqual({ published: 23, parked: 0, failed: [] });
    expect(bus.calls.map((c) => c.length)).toEqual([23, 2]); // the bus adapter splits by 10; the retry holds the two
    expect(bus.calls[1]?.map((e) => e.eventId)).toEqual(["inc#S#C-3#2011-12-01#1", "inc#S#C-17#2011-12-01#1"]);
  });

  it("reports what still fails, and a poison record, as batch item failures", async () => {
    const poison: DynamoDBRecord = {
      eventID: "bad",
      dynamodb: { SequenceNumber: "99", NewImage: { kind: { S: "LINE" } } as never },
    };
    const bus = flakyBus(new Set(["inc#S#C-5#2011-12-01#1"]), Number.POSITIVE_INFINITY);
    const result = await publishRecords([...records, poison], bus, { budgetMs: 30, baseDelayMs: 1, maxDelayMs: 4 });
    expect(result.failed.sort()).toEqual(["6", "99"]);
    expect(result.published).toBe(22);
  });
});

describe("poison records", () => {
  const records = Array.from({ length: 3 }, (_, i) =>
    record(String(i + 1), { ...line(1, 20n), lineId: `inc#S#C-${i}#2011-12-01` }),
  );
  const poison: DynamoDBRecord = {
    eventID: "bad",
    dynamodb: { SequenceNumber: "99", NewImage: { kind: { S: "SOMETHING" } } as never },
  };

  it("parks a record no event can be built from, whole, and holds nothing on it", async () => {
    const parked: { record: DynamoDBRecord; reason: string }[] = [];
    const parking = { park: async (record: DynamoDBRecord, reason: string) => void parked.push({ record, reason }) };
    const bus = flakyBus(new Set(), 0);
    const result = await publishRecords([records[0], poison, ...records.slice(1)] as DynamoDBRecord[], bus, {
      budgetMs: 0,
      baseDelayMs: 1,
      maxDelayMs: 4,
      parking,
    });
    expect(result).toEqual({ published: 3, parked: 1, failed: [] });
    expect(parked).toEqual([{ record: poison, reason: "stream record bad: unknown item kind SOMETHING" }]);
  });

  it("reports a poison record failed when it cannot be parked: it stays in the stream", async () => {
    const parking = {
      park: async () => {
        throw new Error("queue unavailable");
      },
    };
    const result = await publishRecords([poison], flakyBus(new Set(), 0), {
      budgetMs: 0,
      baseDelayMs: 1,
      maxDelayMs: 4,
      parking,
    });
    expect(result).toEqual({ published: 0, parked: 0, failed: ["99"] });
  });

  it("sends a parked record to the dead-letter queue as SQS takes it: the record whole, with the reason", async () => {
    const { mockClient } = await import("aws-sdk-client-mock");
    const { SQSClient, SendMessageCommand } = await import("@aws-sdk/client-sqs");
    const { SqsRecordParking } = await import("../../../functions/commons/bus/record-parking");
    const mock = mockClient(SQSClient);
    mock.on(SendMessageCommand).resolves({ MessageId: "m-1", MD5OfMessageBody: "x" });
    const url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/dlq";
    await new SqsRecordParking(new SQSClient({}), url).park(poison, "unknown item kind");
    const [call] = mock.commandCalls(SendMessageCommand);
    expect(call?.args[0].input.QueueUrl).toBe(url);
    expect(JSON.parse(call?.args[0].input.MessageBody as string)).toEqual({
      parked: "poison stream record",
      reason: "unknown item kind",
      record: poison,
    });
    mock.restore();
  });
});

describe("publishRecords' time budget", () => {
  const records = Array.from({ length: 3 }, (_, i) =>
    record(String(i + 1), { ...line(1, 20n), lineId: `inc#S#C-${i}#2011-12-01` }),
  );

  it("retries refused entries for as long as its budget lasts, not a fixed number of times", async () => {
    const bus = flakyBus(new Set(["inc#S#C-1#2011-12-01#1"]), 12);
    const result = await publishRecords(records, bus, { budgetMs: 5_000, baseDelayMs: 1, maxDelayMs: 4 });
    expect(result).toEqual({ published: 3, parked: 0, failed: [] });
    expect(bus.calls).toHaveLength(13);
  });

  it("makes one attempt and reports the refused records when there is no budget left", async () => {
    const bus = flakyBus(new Set(["inc#S#C-1#2011-12-01#1"]), 1);
    const result = await publishRecords(records, bus, { budgetMs: 0, baseDelayMs: 1, maxDelayMs: 4 });
    expect(result).toEqual({ published: 2, parked: 0, failed: ["2"] });
    expect(bus.calls).toHaveLength(1);
  });

  it("takes up to 40 s of the invocation's time and leaves it 20 s to report", () => {
    expect([60_000, 45_000, 20_000, 5_000].map(retryBudgetMs)).toEqual([40_000, 25_000, 0, 0]);
  });
});

describe("EventBridgeBus (PutEvents mocked with the real request and response shapes)", () => {
  it("sends 10 entries a call and returns the entries EventBridge did not accept, or all of a call that failed", async () => {
    const mock = mockClient(EventBridgeClient);
    mock
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: Array.from({ length: 10 }, (_, k) =>
          k === 3 ? { ErrorCode: "ThrottlingException", ErrorMessage: "slow down" } : { EventId: `id-${k}` },
        ),
      })
      .rejectsOnce(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }))
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: "last" }] });
    const events = Array.from(
      { length: 21 },
      (_, i) => eventOfRecord(record(String(i), { ...line(1, 20n), lineId: `inc#S#C-${i}#2011-12-01` })) as BusEvent,
    );
    const { retry: failed, refused } = await new EventBridgeBus(new EventBridgeClient({}), "hiwari-bus").put(events);
    expect(refused).toEqual([]);
    const calls = mock.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(calls.map((entries) => entries.length)).toEqual([10, 10, 1]);
    expect(calls[0]?.[0]).toMatchObject({
      EventBusName: "hiwari-bus",
      Source: "hiwari.refunds",
      DetailType: "Refund Calculated",
    });
    expect(JSON.parse(calls[0]?.[0]?.Detail as string).eventId).toBe("inc#S#C-0#2011-12-01#1");
    expect(failed.map((e) => e.eventId)).toEqual([events[3], ...events.slice(10, 20)].map((e) => e?.eventId));
    // Out of time: nothing is tried, everything comes back failed (published on the next delivery).
    const calls0 = mock.commandCalls(PutEventsCommand).length;
    const late = await new EventBridgeBus(new EventBridgeClient({}), "hiwari-bus").put(events, Date.now() - 1);
    expect(late.retry).toHaveLength(21);
    expect(mock.commandCalls(PutEventsCommand)).toHaveLength(calls0);
    mock.restore();
  });
});

describe("events EventBridge can never accept are parked, not retried forever", () => {
  const parkingInto = (parked: { record: DynamoDBRecord; reason: string }[]) => ({
    park: async (r: DynamoDBRecord, reason: string) => void parked.push({ record: r, reason }),
  });
  const options = { budgetMs: 2_000, baseDelayMs: 1, maxDelayMs: 4 };

  it("parks a record whose event is over 256 KB without sending it, and publishes the others", async () => {
    // Prepare: a line whose subscription id alone is 300,000 characters, beside an ordinary one.
    const mock = mockClient(EventBridgeClient);
    mock.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
      FailedEntryCount: 0,
      Entries: input.Entries.map((_, k) => ({ EventId: `id-${k}` })),
    }));
    const huge = record("1", { ...line(1, 20n), subscriptionId: "x".repeat(300_000), lineId: "inc#S#huge#2011-12-01" });
    const ordinary = record("2", { ...line(1, 20n), lineId: "inc#S#C-2#2011-12-01" });
    const parked: { record: DynamoDBRecord; reason: string }[] = [];

    // Act
    const result = await publishRecords([huge, ordinary], new EventBridgeBus(new EventBridgeClient({}), "bus"), {
      ...options,
      parking: parkingInto(parked),
    });

    // Assess: one call with the ordinary entry only; the huge record parked whole, with why.
    expect(result).toEqual({ published: 1, parked: 1, failed: [] });
    expect(mock.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length)).toEqual([1]);
    expect(parked.map((p) => p.record)).toEqual([huge]);
    expect(parked[0]?.reason).toMatch(
      /^EventBridge refused its event: the entry is \d+ bytes; EventBridge takes 262,144$/,
    );
    mock.restore();
  });

  it("parks an entry refused with an error code of its own, retries a throttled one", async () => {
    const mock = mockClient(EventBridgeClient);
    mock
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." },
          { ErrorCode: "ThrottlingException", ErrorMessage: "slow down" },
          { EventId: "id-3" },
        ],
      })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: "id-2" }] });
    const records = [1, 2, 3].map((i) => record(String(i), { ...line(1, 20n), lineId: `inc#S#C-${i}#2011-12-01` }));
    const parked: { record: DynamoDBRecord; reason: string }[] = [];

    const result = await publishRecords(records, new EventBridgeBus(new EventBridgeClient({}), "bus"), {
      ...options,
      parking: parkingInto(parked),
    });

    expect(result).toEqual({ published: 2, parked: 1, failed: [] });
    expect(parked.map((p) => [p.record, p.reason])).toEqual([
      [records[0], "EventBridge refused its event: MalformedDetail: Detail is malformed."],
    ]);
    expect(mock.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length)).toEqual([3, 1]);
    mock.restore();
  });

  it("finds the entry of a call refused as invalid by sending each alone, and parks only that one", async () => {
    const { mockClient } = await import("aws-sdk-client-mock");
    const { EventBridgeClient, PutEventsCommand } = await import("@aws-sdk/client-eventbridge");
    const { EventBridgeBus } = await import("../../../functions/commons/bus/event-bus");
    const invalid = () => Object.assign(new Error("1 validation error detected"), { name: "ValidationException" });
    const mock = mockClient(EventBridgeClient);
    mock.on(PutEventsCommand).callsFake((input: { Entries: { Detail?: string }[] }) => {
      if (input.Entries.some((e) => e.Detail?.includes("C-2#"))) throw invalid();
      return { FailedEntryCount: 0, Entries: input.Entries.map((_, k) => ({ EventId: `id-${k}` })) };
    });
    const records = [1, 2, 3].map((i) => record(String(i), { ...line(1, 20n), lineId: `inc#S#C-${i}#2011-12-01` }));
    const parked: { record: DynamoDBRecord; reason: string }[] = [];

    const result = await publishRecords(records, new EventBridgeBus(new EventBridgeClient({}), "bus"), {
      ...options,
      parking: parkingInto(parked),
    });

    expect(result).toEqual({ published: 2, parked: 1, failed: [] });
    expect(parked.map((p) => p.record)).toEqual([records[1]]);
    expect(mock.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length)).toEqual([3, 1, 1, 1]);
    mock.restore();
  });

  it("keeps retrying what a deployment fault refuses (no permission): the records wait, nothing is parked", async () => {
    const mock = mockClient(EventBridgeClient);
    mock.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: "NotAuthorizedForSourceException", ErrorMessage: "not authorized" }],
    });
    const one = record("7", { ...line(1, 20n), lineId: "inc#S#C-7#2011-12-01" });
    const parked: { record: DynamoDBRecord; reason: string }[] = [];

    const result = await publishRecords([one], new EventBridgeBus(new EventBridgeClient({}), "bus"), {
      budgetMs: 50,
      baseDelayMs: 1,
      maxDelayMs: 2,
      parking: parkingInto(parked),
    });

    expect(result).toEqual({ published: 0, parked: 0, failed: ["7"] });
    expect(parked).toEqual([]);
    expect(mock.commandCalls(PutEventsCommand).length).toBeGreaterThan(1);
    mock.restore();
  });
});

describe("a parked record in SQS", () => {
  it("goes whole when it fits, and without its images (then its keys) when it passes SQS's 256 KiB", async () => {
    const { sqsParkedMessage, SQS_MAX_MESSAGE_BYTES } = await import("../../../functions/commons/bus/record-parking");
    const small = record("1", line(1, 20n));
    const big = record("2", { ...line(1, 20n), subscriberId: "y".repeat(300_000) });
    const huge = record("3", { ...line(1, 20n), subscriptionId: "x".repeat(300_000) });
    huge.dynamodb = {
      ...huge.dynamodb,
      Keys: { pk: { S: `inc#S#${"x".repeat(300_000)}` }, sk: { S: "L#2011-12-01" } },
    };

    expect(JSON.parse(sqsParkedMessage(small, "why")).record).toEqual(small);
    const bigMessage = sqsParkedMessage(big, "why");
    expect(Buffer.byteLength(bigMessage)).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
    expect(JSON.parse(bigMessage).record.dynamodb).toEqual({
      SequenceNumber: "2",
      StreamViewType: "NEW_AND_OLD_IMAGES",
    });
    const hugeMessage = JSON.parse(sqsParkedMessage(huge, "why"));
    expect(hugeMessage.omitted).toMatch(/and its keys too$/);
    expect(hugeMessage.record).toEqual({
      eventID: "e3",
      eventName: "INSERT",
      dynamodb: { SequenceNumber: "3", StreamViewType: "NEW_AND_OLD_IMAGES" },
    });
  });
});
