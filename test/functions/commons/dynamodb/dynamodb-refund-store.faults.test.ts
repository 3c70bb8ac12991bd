import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventBridgeClient, PutEventsCommand, type PutEventsResultEntry } from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drainStream } from "../../../../bin/io/local-stream-reader";
import { EventBridgeBus } from "../../../../functions/commons/bus/event-bus";
import { DynamoDbRefundStore } from "../../../../functions/commons/dynamodb/dynamodb-refund-store";
import { s3RunDeps } from "../../../../functions/commons/runtime";
import { publishRecords } from "../../../../functions/publish-events/publish-records";
import { seededRandom } from "../../../../scripts/seeded-random";
import type { RefundLine } from "../../../../shared/engine/refund-line";
import { releaseAbandoned } from "../../../../shared/pipeline/run-steps";
import { reconcile, type StoredLine } from "../../../../shared/reconcile/reconcile";
import { RunLockedError } from "../../../../shared/store/refund-store";
import { run as computeInMemory, csvOf, incidentDoc, keyedLine, type Row, row } from "../../../helpers/factories";
import { crashAt, faultyClient, InjectedCrashError, randomFaults } from "../../../helpers/faulty-dynamodb";
import {
  BUCKET,
  executionInput,
  runSteps,
  runThrough,
  storedLinesOf,
  TABLES,
  useHarness,
} from "../../../helpers/pipeline-harness";

// Faults injected into a real DynamoDBClient on DynamoDB Local (a fresh instance for this file), and into PutEvents
// (EventBridge has no local peer: aws-sdk-client-mock, with the service's request and response shapes). After each,
// the stored lines are exactly the contract's, and each line change reaches billing under exactly one eventId.

const h = useHarness();
let faulty: ReturnType<typeof faultyClient>;
let deps: () => ReturnType<typeof s3RunDeps>;
let stateDir: string;
beforeAll(() => {
  faulty = faultyClient(h.db.endpoint);
  const store = new DynamoDbRefundStore(faulty.client, TABLES);
  const runDeps = s3RunDeps(store, h.s3.client, BUCKET);
  deps = () => runDeps;
  stateDir = mkdtempSync(join(tmpdir(), "hiwari-faults-"));
});
afterAll(() => {
  faulty?.client.destroy();
  rmSync(stateDir, { recursive: true, force: true });
});

/** The sp-mode services with goodwill; 120 rows: both services, other services, ends inside the window, bad rows. */
function incidentFor(incidentId: string, end = "2011-12-22T14:00:00+09:00") {
  return incidentDoc({
    incidentId,
    suspensions: [
      { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end },
      { serviceCode: "DRIVENET", start: "2011-12-20T23:30:00+09:00", end },
    ],
    goodwill: { amount: 200, currency: "JPY" },
  });
}
function snapshotRows(count = 120): Row[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const fields: Row = {
      subscriber_id: `S-${n % 90}`, // some subscribers hold two subscriptions
      service_code: ["IMADOKO", "DRIVENET", "OTHER"][n % 3],
      monthly_fee: n % 3 === 1 ? "210" : "315",
      billing_day: String((n % 28) + 1),
    };
    if (n % 10 === 0) fields.active_to = "2011-12-21T12:00:00+09:00";
    if (n % 37 === 0) fields.monthly_fee = "12x"; // rejected
    return row(fields, n);
  });
}

let uploads = 0;
/** Uploads a snapshot and the execution input start-run would build for it. */
function request(incident: { incidentId: string }, rows: Row[], requestId: string) {
  const key = `snapshots/faults/${++uploads}.csv`;
  const versionId = h.s3.put(BUCKET, key, csvOf(rows));
  return executionInput(h, incident, { key, versionId }, { requestId, batchSize: 25 });
}

const fields = (l: RefundLine) =>
  [
    l.subscriptionId,
    l.subscriberId,
    l.serviceCode,
    l.periodStart,
    l.periodEnd,
    l.unit,
    l.units,
    l.basis,
    l.amount,
    l.currency,
  ].join("|");

/** The incident's standing lines are exactly what the contract gives for this snapshot (all ten fields). */
async function expectStoredAsContract(incident: { incidentId: string }, rows: Row[]): Promise<StoredLine[]> {
  const stored = await storedLinesOf(h.store, incident.incidentId);
  const expected = await computeInMemory(incident, csvOf(rows));
  expect(
    stored
      .filter((l) => l.status === "active")
      .map(fields)
      .sort(),
  ).toEqual(expected.lines.map(fields).sort());
  return stored;
}

/**
 * Billing's side of EventBridge: PutEvents answered as the service answers (`up`; `partial`: about a third of
 * the entries refused with ThrottlingException, the rest accepted; `down`: every call fails with a 500), and
 * every accepted entry's detail, as delivered (redeliveries included).
 */
function fakeEventBridge() {
  const client = new EventBridgeClient({
    region: "ap-northeast-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  const mock = mockClient(client);
  const delivered: { eventId: string; detailType: string; detail: Record<string, unknown> }[] = [];
  const random = seededRandom(7);
  const bridge = { client, mode: "up" as "up" | "partial" | "down", delivered, restore: () => mock.restore() };
  mock.on(PutEventsCommand).callsFake((input) => {
    if (bridge.mode === "down")
      throw Object.assign(new Error("An internal error occurred"), {
        name: "InternalException",
        $fault: "server",
        $metadata: { httpStatusCode: 500 },
      });
    const entries: PutEventsResultEntry[] = (input.Entries ?? []).map(
      (entry: { Detail: string; DetailType: string }, k: number) => {
        if (bridge.mode === "partial" && random() < 0.35)
          return { ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" };
        const detail = JSON.parse(entry.Detail) as Record<string, unknown>;
        delivered.push({ eventId: String(detail.eventId), detailType: entry.DetailType, detail });
        return { EventId: `ev-${delivered.length}-${k}` };
      },
    );
    return { FailedEntryCount: entries.filter((e) => e.ErrorCode).length, Entries: entries };
  });
  return bridge;
}

/** The table's stream, from where the last call stopped, through the publisher to the fake EventBridge. */
async function publish(bridge: ReturnType<typeof fakeEventBridge>, checkpoint = "checkpoint.json") {
  const bus = new EventBridgeBus(bridge.client, "hiwari-refunds");
  return drainStream(h.db.endpoint, TABLES.refunds, join(stateDir, checkpoint), async (records) => {
    const result = await publishRecords(records, bus, { budgetMs: 20, baseDelayMs: 1, maxDelayMs: 4 });
    return result.failed;
  });
}
/** Publishes the whole stream (from its start, with this checkpoint) to an EventBridge that is up: the incident's events. */
async function publishAll(incidentId: string, checkpoint: string) {
  const bridge = fakeEventBridge();
  try {
    await publish(bridge, checkpoint);
    return bridge.delivered.filter((e) => e.detail.incidentId === incidentId);
  } finally {
    bridge.restore();
  }
}

/**
 * Each change of each stored line reached billing under exactly one eventId once deduplicated (`lineId#version`
 * for versions 1..v), every copy of an eventId carries the same detail, and nothing else was delivered but runs.
 */
function expectOneEventPerChange(stored: StoredLine[], delivered: ReturnType<typeof fakeEventBridge>["delivered"]) {
  const byId = new Map<string, string>();
  for (const e of delivered) {
    const text = JSON.stringify(e.detail);
    const before = byId.get(e.eventId);
    if (before !== undefined) expect(text).toBe(before); // a redelivery: the same event
    byId.set(e.eventId, text);
  }
  const expected = stored.flatMap((l) => Array.from({ length: l.version }, (_, v) => `${l.lineId}#${v + 1}`));
  const lineIds = [...byId.keys()].filter((id) => !id.includes("#RUN#"));
  expect(lineIds.sort()).toEqual(expected.sort());
}

describe("a run under DynamoDB faults", () => {
  it("stores exactly the contract's lines through throttling, 500s, dropped connections and unprocessed items, first run and corrected rerun alike", async () => {
    const incident = incidentFor("faults-retry");
    // 240 rows: enough batched calls (a first run's finalize makes none) for every kind of fault to be met often.
    const rows = snapshotRows(240);
    faulty.setPlan(randomFaults(20111220, 0.1, ["throttle", "unavailable", "lost-response", "unprocessed"]));

    const first = await runThrough(h, deps, request(incident, rows, "first"));
    expect(first.status).toBe("completed");
    const firstLines = await expectStoredAsContract(incident, rows);
    expect(firstLines.every((l) => l.version === 1)).toBe(true); // a retried write made no second version

    // A corrected rerun: the services back on the 21st at 14:00, one subscription gone, one fee corrected.
    const corrected = incidentFor("faults-retry", "2011-12-21T14:00:00+09:00");
    const rerunRows = rows
      .filter((r) => r.subscription_id !== "C-3")
      .map((r) => (r.subscription_id === "C-4" ? { ...r, monthly_fee: "420" } : r));
    const second = await runThrough(h, deps, request(corrected, rerunRows, "second"));
    expect(second.status).toBe("completed");
    expect((second.counts?.adjusted ?? 0) + (second.counts?.voided ?? 0)).toBeGreaterThan(40);
    const stored = await expectStoredAsContract(corrected, rerunRows);
    expect(stored.filter((l) => l.status === "voided").map((l) => l.subscriptionId)).toContain("C-3");

    // Every fault was met, and the SDK retried what it could (the test fails if none were injected).
    for (const kind of ["throttle", "unavailable", "lost-response", "unprocessed"] as const)
      expect(faulty.log.injected[kind], kind).toBeGreaterThan(3);
    faulty.setPlan(() => undefined);

    // The stream holds every incident this file's tests wrote, in whatever order they ran: this one's events only.
    const delivered = await publishAll(incident.incidentId, "retry-checkpoint.json");
    expectOneEventPerChange(stored, delivered);
    expect(delivered.filter((e) => e.eventId.includes("#RUN#"))).toHaveLength(2);
    // Deltas posted in order add up to what is owed now.
    const owed = stored.filter((l) => l.status === "active").reduce((sum, l) => sum + l.amount, 0n);
    const posted = delivered
      .filter((e) => !e.eventId.includes("#RUN#"))
      .reduce((sum, e) => sum + BigInt(e.detail.delta as string), 0n);
    expect(posted).toBe(owed);
  }, 180_000);

  it("a batch that dies after writing part of its lines, retried, leaves each line once: first run and rerun", async () => {
    const incident = incidentFor("faults-crash");
    const rows = snapshotRows(100);
    const first = runSteps(h, deps, request(incident, rows, "first"));
    await first.prepare();
    const [child, ...rest] = first.children();
    if (!child) throw new Error("no child");
    faulty.setPlan(crashAt("BatchWriteItemCommand", 2)); // the second call of batched line writes dies
    await expect(first.compute(child)).rejects.toThrow(InjectedCrashError);
    faulty.setPlan(() => undefined);
    const partial = await storedLinesOf(h.store, incident.incidentId);
    expect(partial.length).toBeGreaterThan(0); // some lines were written before it died
    await first.compute(child); // the Map retries the child
    for (const c of rest) await first.compute(c);
    await first.finalize();
    let stored = await expectStoredAsContract(incident, rows);
    expect(stored.every((l) => l.version === 1)).toBe(true);

    const corrected = incidentFor("faults-crash", "2011-12-21T14:00:00+09:00");
    const second = runSteps(h, deps, request(corrected, rows, "second"));
    await second.prepare();
    const [child2, ...rest2] = second.children();
    if (!child2) throw new Error("no child");
    faulty.setPlan(crashAt("PutItemCommand", 5)); // conditional line writes on a rerun: the fifth dies
    await expect(second.compute(child2)).rejects.toThrow(InjectedCrashError);
    faulty.setPlan(() => undefined);
    await second.compute(child2);
    for (const c of rest2) await second.compute(c);
    const done = await second.finalize();
    expect(done.status).toBe("completed");
    stored = await expectStoredAsContract(corrected, rows);
    expect(Math.max(...stored.map((l) => l.version))).toBe(2); // adjusted once, never twice

    expectOneEventPerChange(stored, await publishAll(incident.incidentId, "crash-checkpoint.json"));
  });
});

describe("a write call that fails", () => {
  it("returns only once nothing of it is still writing: the other chunks stop at their next retry", async () => {
    const store = new DynamoDbRefundStore(faulty.client, TABLES);
    const changes = reconcile(
      [],
      Array.from({ length: 200 }, (_, i) => keyedLine(`W-${i}`, 20n, { lineId: `faults-stop#S#W-${i}#2011-12-01` })),
      "run-stop",
    ).changes;
    let attempts = 0;
    faulty.setPlan((command, stage) => {
      if (command !== "BatchWriteItemCommand") return undefined;
      if (stage === "call") return "unprocessed"; // every chunk is left retrying half of its items
      return ++attempts === 3 ? "crash" : undefined;
    });
    await expect(store.writeChanges(changes, { exclusive: true })).rejects.toThrow(InjectedCrashError);
    const atFailure = faulty.log.attempts.BatchWriteItemCommand;
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // longer than any backoff of the first retries
    faulty.setPlan(() => undefined);
    expect(faulty.log.attempts.BatchWriteItemCommand).toBe(atFailure);
  });
});

describe("events under EventBridge faults and redelivery", () => {
  it("keeps refused and undelivered events in the stream until they go out: each change one eventId, nothing lost", async () => {
    const incident = incidentFor("faults-events");
    const rows = snapshotRows(60);
    await runThrough(h, deps, request(incident, rows, "first"));
    const stored = await expectStoredAsContract(incident, rows);
    const bridge = fakeEventBridge();
    const ours = () => bridge.delivered.filter((e) => e.detail.incidentId === incident.incidentId);

    bridge.mode = "down"; // an EventBridge outage: nothing goes out, the stream keeps every record
    const outage = await publish(bridge, "events-checkpoint.json");
    expect(outage.failed).toBeGreaterThan(0);
    expect(bridge.delivered).toHaveLength(0);

    bridge.mode = "partial"; // throttled: some entries refused on each call; the refused stay in the stream
    for (let i = 0; i < 20; i++) {
      const pass = await publish(bridge, "events-checkpoint.json");
      if (pass.failed === 0) break;
    }
    bridge.mode = "up";
    expect((await publish(bridge, "events-checkpoint.json")).failed).toBe(0);
    expectOneEventPerChange(stored, ours());

    // The event source mapping delivers a record twice (a retried batch): the same eventIds, the same events.
    const before = ours().length;
    await publish(bridge, "events-redelivered.json"); // from the stream's start again
    expect(ours().length).toBeGreaterThan(before);
    expectOneEventPerChange(stored, ours());
    bridge.restore();
  });
});

describe("runs of one incident at once, and a run that died holding the lock", () => {
  it("lets one of two reruns started together take the incident; the other is refused and each change comes out once", async () => {
    const incident = incidentFor("faults-race");
    const rows = snapshotRows(40);
    await runThrough(h, deps, request(incident, rows, "first"));
    // Two corrections requested at once (two people in finance, or one request sent twice with new ids).
    const corrected = incidentFor("faults-race", "2011-12-21T14:00:00+09:00");
    const a = runSteps(h, deps, request(corrected, rows, "a"));
    const b = runSteps(h, deps, request(corrected, rows, "b"));
    const [pa, pb] = await Promise.allSettled([a.prepare(), b.prepare()]);
    expect([pa.status, pb.status].sort()).toEqual(["fulfilled", "rejected"]);
    const loser = pa.status === "rejected" ? pa : (pb as PromiseRejectedResult);
    expect(loser.reason).toBeInstanceOf(RunLockedError);
    const winner = pa.status === "fulfilled" ? a : b;
    // The loser tries again while the winner computes: refused again, nothing written by it.
    const children = winner.children();
    await winner.compute(children[0] as (typeof children)[number]);
    await expect((winner === a ? b : a).prepare()).rejects.toThrow(RunLockedError);
    for (const child of children.slice(1)) await winner.compute(child);
    expect((await winner.finalize()).status).toBe("completed");
    const stored = await expectStoredAsContract(corrected, rows);
    expect(stored.some((l) => l.version === 2)).toBe(true);
    expect(stored.every((l) => l.version <= 2 && (l.version === 1 || l.runId === winner.ref.runId))).toBe(true);
    expectOneEventPerChange(stored, await publishAll(incident.incidentId, "race-checkpoint.json"));
  });

  it("refuses others while a dead run holds the lock; after `hiwari unlock`, a new request completes with each line once", async () => {
    const incident = incidentFor("faults-dead");
    const rows = snapshotRows(80);
    const dead = runSteps(h, deps, request(incident, rows, "dead"));
    await dead.prepare();
    const [child] = dead.children();
    if (!child) throw new Error("no child");
    await dead.compute(child); // then the process dies: lock held, some lines stored, no finalize
    const next = request(incident, rows, "next");
    await expect(runSteps(h, deps, next).prepare()).rejects.toThrow(RunLockedError);

    expect(await releaseAbandoned(incident.incidentId, h.store)).toBe(dead.ref.runId); // what `hiwari unlock` does
    expect(await h.store.getRun(incident.incidentId, dead.ref.runId)).toMatchObject({ status: "abandoned" });
    const done = await runThrough(h, deps, next);
    expect(done.status).toBe("completed");
    expect(done.counts?.unchanged).toBeGreaterThan(0); // the dead run's lines, read back, not written again
    const stored = await expectStoredAsContract(incident, rows);
    expect(stored.every((l) => l.version === 1)).toBe(true);

    expectOneEventPerChange(stored, await publishAll(incident.incidentId, "dead-checkpoint.json"));
  });
});
