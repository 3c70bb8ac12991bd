import { describe, expect, it } from "vitest";
import type { CsvRecord } from "../../../shared/csv/csv-record-reader";
import { parseIncident } from "../../../shared/input/incident";
import { readHeader, SUBSCRIPTION_COLUMNS, type SubscriptionHeader } from "../../../shared/input/subscription-row";
import { computeBatch } from "../../../shared/pipeline/compute-batch";
import type { RunContext } from "../../../shared/pipeline/run-context";
import { lineGroupOf } from "../../../shared/reconcile/line-identity";
import { type ShardBook, shardOf } from "../../../shared/store/refund-store";
import { incidentDoc, type Row, row } from "../../helpers/factories";
import { MemoryStore } from "../../helpers/memory-store";

// The sp-mode window (2011-12-20 23:30 → 2011-12-22 14:00, Tokyo), calendar-day, actual, floor, 500 JPY goodwill.
const incident = parseIncident(incidentDoc({ incidentId: "batch", goodwill: { amount: 500, currency: "JPY" } }));
const header = (readHeader([...SUBSCRIPTION_COLUMNS]) as { header: SubscriptionHeader }).header;
const records = (rows: Row[]): CsvRecord[] =>
  rows.map((r, i) => ({ line: i + 2, fields: SUBSCRIPTION_COLUMNS.map((c) => r[c] ?? "") }));
const context = (overrides: Partial<RunContext> = {}): RunContext => ({
  incident,
  runId: "run-1",
  dryRun: false,
  fresh: true,
  duplicates: new Set<string>(),
  ...overrides,
});

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

describe("computeBatch", () => {
  it("computes, writes the new lines in batched writes on a first run, and records the batch: hand-worked amounts", async () => {
    // Prepare
    const store = new MemoryStore();
    const saved: string[] = [];

    // Act
    const result = await computeBatch(context(), 7, header, records(ROWS), store, async (rejects) => {
      saved.push(...rejects.map((r) => `${r.line} ${r.field}`));
      store.calls.push("saveRejects");
    });

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
    const all = (kind: keyof ShardBook) => [...books.values()].flatMap((b) => b[kind]).sort();
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

    const result = await computeBatch(context({ duplicates: new Set(["C-1"]) }), 1, header, records(twice), store);

    expect(result.rejects.map((r) => [r.line, r.subscriptionId])).toEqual([
      [2, "C-1"],
      [3, "C-1"],
    ]);
    expect(result.changes.map((c) => c.next.subscriptionId)).toEqual(["C-2"]);
  });
});
