import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CsvRecordReader } from "../../../shared/csv/csv-record-reader";
import { SnapshotScanner } from "../../../shared/csv/snapshot-scanner";
import { Utf8ChunkDecoder } from "../../../shared/csv/utf8-decoder";
import { duplicatesOf, PlainRows } from "../../../shared/engine/fast/plain-rows";
import { type Incident, parseIncident } from "../../../shared/input/incident";
import { readHeader, SUBSCRIPTION_COLUMNS, type SubscriptionHeader } from "../../../shared/input/subscription-row";
import { type BatchRows, computeBatch, recordRows } from "../../../shared/pipeline/compute-batch";
import type { RunContext } from "../../../shared/pipeline/run-context";
import { type Slice, SnapshotChangedError, sliceRows, surveySnapshot } from "../../../shared/pipeline/survey-snapshot";
import { lineGroupOf } from "../../../shared/reconcile/line-identity";
import { type ShardBook, shardOf } from "../../../shared/store/refund-store";
import {
  csvOf,
  csvWithColumns,
  incidentDoc,
  KDDI_VOICE_WINDOWS,
  type Row,
  row,
  runReference,
} from "../../helpers/factories";
import { MemoryStore } from "../../helpers/memory-store";
import { incidentArb, scopedIncidentArb, scopedSnapshotArb, snapshotArb } from "../../helpers/snapshot-arbitraries";

// The sp-mode window (2011-12-20 23:30 → 2011-12-22 14:00, Tokyo), calendar-day, actual, floor, 500 JPY goodwill.
const incident = parseIncident(incidentDoc({ incidentId: "batch", goodwill: { amount: 500, currency: "JPY" } }));
const header = (readHeader([...SUBSCRIPTION_COLUMNS]) as { header: SubscriptionHeader }).header;
const context = (overrides: Partial<RunContext> = {}): RunContext => ({
  incident,
  runId: "run-1",
  dryRun: false,
  fresh: true,
  duplicates: duplicatesOf([]),
  ...overrides,
});

/** A batch's rows from the snapshot's lines 2, 3, …: every one as a record (the reference judgement's path). */
const asRecords = (rows: Row[]): BatchRows =>
  recordRows(rows.map((r, i) => ({ line: i + 2, fields: SUBSCRIPTION_COLUMNS.map((c) => r[c] ?? "") })));

/** The same rows as bytes, read as a batch reads its slice (plain lines on the byte path). */
const asBytes = (rows: Row[]): BatchRows => {
  const text = csvOf(rows);
  return scanned(bytesOf(text.slice(text.indexOf("\n") + 1)), SUBSCRIPTION_COLUMNS.length, 2);
};

/** Rows scanned from `bytes` (a slice of a snapshot after its header) starting on line `line`. */
const scanned =
  (bytes: Uint8Array, width: number, line: number): BatchRows =>
  (visitor) => {
    const scanner = new SnapshotScanner({ header: () => width, ...visitor }, { width, line });
    scanner.push(bytes);
    scanner.end();
  };

const bytesOf = (text: string) => new TextEncoder().encode(text);

// Five rows (lines 2–6 of the snapshot):
// C-1 210 JPY, days 20, 21, 22 of December's 31: floor(210 × 3 / 31) = floor(20.32) = 20;
// C-2 310 JPY, the same 3 days: 310 × 3 / 31 = 30 exactly;
// C-3 210 JPY, active until 2011-12-21 (Tokyo midnight): only the 20th is suspended: floor(210 / 31) = 6;
// C-4 another service: skipped (no line, no goodwill under scope "refunded");
// C-5 a fee that is not a number: rejected.
const ROWS = [
  row({}, 1),
  row({ monthly_fee: "310" }, 2),
  row({ active_to: "2011-12-21" }, 3),
  row({ service_code: "OTHER" }, 4),
  row({ monthly_fee: "abc" }, 5),
];

// Every case runs on both paths: the byte path (what a batch runs) and every row as a record (the reference).
describe.each([
  ["the byte path", asBytes],
  ["records", asRecords],
])("computeBatch, rows read by %s", (path, records) => {
  afterEach(() => vi.restoreAllMocks());

  it("computes, writes the new lines in batched writes on a first run, and records the batch: hand-worked amounts", async () => {
    // Prepare
    const store = new MemoryStore();
    const saved: string[] = [];

    const accept = vi.spyOn(PlainRows.prototype, "accept");

    // Act
    const result = await computeBatch(context(), 7, header, records(ROWS), store, async (rejects) => {
      saved.push(...rejects.map((r) => `${r.line} ${r.field}`));
      store.calls.push("saveRejects");
    });

    // On the byte path it takes C-1 to C-4 (C-4 skipped) and hands C-5's fee to the reference judgement.
    expect(accept.mock.results.map((r) => r.value)).toEqual(
      path === "the byte path" ? [true, true, true, true, false] : [],
    );

    // Assess: the lines and their amounts; 20 + 30 + 6 = 56 in all
    expect(result.changes.map((c) => [c.kind, c.next.subscriptionId, c.next.units, c.next.amount])).toEqual([
      ["calculated", "C-1", 3, 20n],
      ["calculated", "C-2", 3, 30n],
      ["calculated", "C-3", 1, 6n],
    ]);
    expect(result.summary).toEqual({
      batchNo: 7,
      counts: { rows: 5, computed: 3, skipped: 1, rejected: 1, calculated: 3, adjusted: 0, voided: 0, unchanged: 0 },
      totals: [{ serviceCode: "IMADOKO", currency: "JPY", lines: 3, amount: "56" }],
    });
    expect(saved).toEqual(["6 monthly_fee"]);
    // A first run reads nothing back; the rejects are saved before the batch is recorded
    expect(store.calls).toEqual(["writeChanges 3 exclusive", "saveRejects", "putBatch batch run-1 7"]);
  });

  it("books each line and goodwill group in its shard: produced, eligible, and kept/protected for a rejected row", async () => {
    const store = new MemoryStore();

    await computeBatch(context(), 1, header, records(ROWS), store);

    const books = store.batches.get("run-1#1")?.books ?? new Map<number, ShardBook>();
    const all = (kind: "produced" | "kept" | "eligible" | "protected") =>
      [...books.values()].flatMap((b) => b[kind]).sort();
    expect(all("produced")).toEqual(["batch#S#C-1#2011-12-01", "batch#S#C-2#2011-12-01", "batch#S#C-3#2011-12-01"]);
    // Goodwill under scope "refunded": the subscribers of suspended rows, not S-4 (skipped) nor S-5 (rejected)
    expect(all("eligible")).toEqual(["batch#G#S-1", "batch#G#S-2", "batch#G#S-3"]);
    // The rejected row keeps its subscription's stored lines and its subscriber's goodwill
    expect(all("kept")).toEqual(["batch#S#C-5"]);
    expect(all("protected")).toEqual(["batch#G#S-5"]);
    for (const [shard, book] of books)
      for (const group of [...book.eligible, ...book.kept, ...book.protected]) expect(shardOf(group)).toBe(shard);
    expect(books.get(shardOf(lineGroupOf("batch", { subscriptionId: "C-1", subscriberId: "" })))?.produced).toContain(
      "batch#S#C-1#2011-12-01",
    );
  });

  it("on a rerun reads the stored lines back and writes only what changed, conditionally", async () => {
    // Prepare: the first run's lines stored; then C-1's fee corrected to 310 (20 → 30)
    const store = new MemoryStore();
    await computeBatch(context(), 1, header, records(ROWS), store);
    store.calls.length = 0;
    const corrected = [row({ monthly_fee: "310" }, 1), ...ROWS.slice(1)];

    // Act
    const result = await computeBatch(context({ runId: "run-2", fresh: false }), 1, header, records(corrected), store);

    // Assess
    expect(
      result.changes.map((c) => [c.kind, c.next.subscriptionId, c.previous?.amount, c.next.amount, c.next.version]),
    ).toEqual([["adjusted", "C-1", 20n, 30n, 2]]);
    expect(result.summary.counts).toMatchObject({ calculated: 0, adjusted: 1, unchanged: 2 });
    expect(result.summary.totals).toEqual([{ serviceCode: "IMADOKO", currency: "JPY", lines: 3, amount: "66" }]);
    expect(store.calls).toEqual(["linesLike batch 3", "writeChanges 1", "putBatch batch run-2 1"]);
  });

  it("writes no line in a dry run, yet returns and records what it would change", async () => {
    const store = new MemoryStore();

    const result = await computeBatch(context({ dryRun: true }), 1, header, records(ROWS), store);

    expect(result.changes).toHaveLength(3);
    expect(store.lines.size).toBe(0);
    expect(store.calls).toEqual(["putBatch batch run-1 1"]);
  });

  it("rejects every copy of a subscription id the snapshot holds twice", async () => {
    const store = new MemoryStore();
    const twice = [row({}, 1), row({}, 1), row({}, 2)];

    const result = await computeBatch(context({ duplicates: duplicatesOf(["C-1"]) }), 1, header, records(twice), store);

    expect(result.rejects.map((r) => [r.line, r.subscriptionId])).toEqual([
      [2, "C-1"],
      [3, "C-1"],
    ]);
    expect(result.changes.map((c) => c.next.subscriptionId)).toEqual(["C-2"]);
  });
});

/** A slice's records as the CSV reader alone reads them (no scanner): the reference path's input. */
function readerRecords(bytes: Uint8Array, firstLine: number) {
  const reader = new CsvRecordReader({ firstLine, dropBom: false });
  const decoder = new Utf8ChunkDecoder();
  return [...reader.push(decoder.decode(bytes)), ...reader.push(decoder.end()), ...reader.end()];
}

/** One batch on a store of its own: what it returned, and the books it recorded. */
async function batchOf(
  incident: Incident,
  duplicates: string[],
  batchNo: number,
  header: SubscriptionHeader,
  rows: BatchRows,
) {
  const store = new MemoryStore();
  const result = await computeBatch(
    context({ incident, duplicates: duplicatesOf(duplicates) }),
    batchNo,
    header,
    rows,
    store,
  );
  return { result, books: store.batches.get(`run-1#${batchNo}`)?.books };
}

describe("computeBatch's byte path against the reference judgement", () => {
  // The byte path (PlainRows, from the fast engine) must take a row only when the reference judgement would, and
  // make of it the very same lines, ids, books and counts: on random snapshots whose fields straddle every check,
  // written plainly and in every broken way, cut into slices of any size.
  // Rows the byte path took across a property's runs: a byte path that declined everything would make the same
  // results as the reference, so the properties also require that it took rows (most random rows have a fault
  // somewhere, so it takes a few dozen in 300 runs; the hand-worked cases count exactly).
  const taken = () => {
    const spy = vi.spyOn(PlainRows.prototype, "accept");
    return {
      count: () => spy.mock.results.filter((r) => r.value === true).length,
      restore: () => spy.mockRestore(),
    };
  };

  /** Both paths on every slice of `bytes` cut into batches of `batchSize` rows: they must agree. */
  async function bothPaths(incident: Incident, bytes: Uint8Array, batchSize: number) {
    const survey = await surveySnapshot(
      "p.csv",
      async function* () {
        yield bytes;
      },
      batchSize,
      { strict: false, incident },
    );
    const duplicates = [...survey.duplicates];
    const { header } = survey;
    for (const slice of survey.slices) {
      const part = bytes.subarray(slice.start, slice.end);
      const fast = await batchOf(
        incident,
        duplicates,
        slice.batchNo,
        header,
        sliceRows("p.csv", slice, part, header.width),
      );
      const reference = await batchOf(
        incident,
        duplicates,
        slice.batchNo,
        header,
        recordRows(readerRecords(part, slice.firstLine)),
      );
      expect(fast).toEqual(reference);
    }
  }

  it("makes the same lines, rejects, counts, totals and books from any snapshot, however it is sliced (property)", async () => {
    const accepted = taken();
    try {
      await fc.assert(fc.asyncProperty(incidentArb, snapshotArb, fc.integer({ min: 1, max: 15 }), bothPaths), {
        numRuns: 300,
      });
      expect(accepted.count()).toBeGreaterThan(10);
    } finally {
      accepted.restore();
    }
  });

  it("and on scoped incidents: windows by plan, goodwill by scope and by a flag (property, contract v2)", async () => {
    const accepted = taken();
    try {
      await fc.assert(
        fc.asyncProperty(scopedIncidentArb, scopedSnapshotArb, fc.integer({ min: 1, max: 12 }), bothPaths),
        { numRuns: 300 },
      );
      expect(accepted.count()).toBeGreaterThan(10);
    } finally {
      accepted.restore();
    }
  });

  it("rejects as the reference engine does an id whose bytes are not UTF-8, held twice: as a duplicate", async () => {
    // `a\xFF` reads as "a" and the invalid-UTF-8 marker; the duplicates are kept as UTF-8, so the marker's U+FFFD
    // (a plain Set of the decoded ids missed it, and such rows were rejected for their bytes instead).
    const text = csvOf([row({ subscription_id: "a@" }, 1), row({ subscription_id: "a@" }, 2), row({}, 3)]);
    const bytes = bytesOf(text).map((b) => (b === 0x40 ? 0xff : b));
    const survey = await surveySnapshot(
      "u.csv",
      async function* () {
        yield bytes;
      },
      10,
      { strict: false, incident },
    );
    const [slice] = survey.slices as [Slice];
    const part = bytes.subarray(slice.start, slice.end);
    const batch = await batchOf(incident, [...survey.duplicates], 1, survey.header, sliceRows("u.csv", slice, part, 9));
    const reference = await runReference(incident, bytes);
    expect(batch.result.rejects).toEqual(reference.rejects);
    expect(batch.result.rejects.map((r) => [r.line, r.field, r.reason])).toEqual([
      [2, "subscription_id", expect.stringMatching(/more than once/)],
      [3, "subscription_id", expect.stringMatching(/more than once/)],
    ]);
  });

  it("refuses a slice of another number of rows than prepare found, before it reads or writes the store", async () => {
    const bytes = bytesOf(csvOf([row({}, 1), row({}, 2)]));
    const survey = await surveySnapshot(
      "s.csv",
      async function* () {
        yield bytes;
      },
      10,
      { strict: false, incident },
    );
    const [slice] = survey.slices as [Slice];
    const miscounted = { ...slice, rows: 3 }; // as if prepare had counted another file of the same bytes
    const store = new MemoryStore();
    const rows = sliceRows("s.csv", miscounted, bytes.subarray(slice.start), 9);
    await expect(computeBatch(context(), 1, header, rows, store)).rejects.toThrow(SnapshotChangedError);
    expect(store.calls).toEqual([]);
  });

  it("scopes as the reference does: windows by plan, goodwill by a flag, both paths alike (contract v2)", async () => {
    // July 2022 VOICE: W0 (voice-only plans) Jul 2 01:35 → Jul 4 15:00 JST, W1 (everyone) Jul 2 01:35 → 12:00;
    // full-24h blocks, actual days (31), floor: voice-only rows are owed 2 blocks, the others none
    // (10.4 h is no whole block). Goodwill 200 JPY to flagged subscribers only.
    const scoped = parseIncident({
      incidentId: "kddi",
      timeZone: "Asia/Tokyo",
      policy: { rule: "full-24h", dayBasis: "actual", rounding: "floor" },
      suspensions: KDDI_VOICE_WINDOWS,
      goodwill: { amount: 200, currency: "JPY", scope: "active", where: { victims: ["yes"] } },
    });
    const columns = ["plan", ...SUBSCRIPTION_COLUMNS, "victims"];
    const voice = (plan: string, victims: string, n: number, subscriber = `S-${n}`) => ({
      ...(row({ service_code: "VOICE", monthly_fee: "3100", subscriber_id: subscriber }, n) as Record<string, string>),
      plan,
      victims,
    });
    const text = csvWithColumns(columns, [
      voice("voice-only", "yes", 1), // 2 blocks of 3,100 × 1/31 = 100 each: 200; credited
      voice("data", "yes", 2), // no whole block; credited (scope "active")
      voice("voice-only", "no", 3), // 200; not credited
      voice("voice-only", "", 4, "S-4日"), // not ASCII: the byte path hands it to the reference judgement
    ]);
    const bytes = bytesOf(text);
    const survey = await surveySnapshot(
      "k.csv",
      async function* () {
        yield bytes;
      },
      10,
      { strict: false, incident: scoped },
    );
    const [slice] = survey.slices as [Slice];
    const part = bytes.subarray(slice.start, slice.end);
    const fast = await batchOf(scoped, [], 1, survey.header, sliceRows("k.csv", slice, part, survey.header.width));
    const reference = await batchOf(scoped, [], 1, survey.header, recordRows(readerRecords(part, slice.firstLine)));
    expect(fast).toEqual(reference);
    expect(fast.result.changes.map((c) => [c.next.subscriptionId, c.next.units, c.next.amount])).toEqual([
      ["C-1", 2, 200n],
      ["C-3", 2, 200n],
      ["C-4", 2, 200n],
    ]);
    const eligible = [...(fast.books?.values() ?? [])].flatMap((b) => b.eligible).sort();
    expect(eligible).toEqual(["kddi#G#S-1", "kddi#G#S-2"]);
  });
});
