import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CountingStore } from "../../../../scripts/bench/scale/counting-store";
import { type BatchSummary, LockLostError, type ShardBook, ZERO_COUNTS } from "../../../../shared/store/refund-store";

const summary = (batchNo: number): BatchSummary => ({ batchNo, counts: { ...ZERO_COUNTS, rows: 10 }, totals: [] });
const booksOf = async (books: AsyncIterable<ShardBook>) => {
  const out: ShardBook[] = [];
  for await (const b of books) out.push(b);
  return out;
};
const book = (id: string): ShardBook => ({ produced: [id], kept: [], eligible: [`g-${id}`], protected: [] });

describe("CountingStore", () => {
  it("hands another process's store what the batches recorded, a retried batch once", async () => {
    // Prepare: two writers (two compute processes), one of them retrying batch 1
    const folder = mkdtempSync(join(tmpdir(), "hiwari-counting-store-"));
    const a = new CountingStore(folder, "compute-0");
    const b = new CountingStore(folder, "compute-1");

    // Act
    await a.putBatch("inc", "run-1", summary(1), new Map([[3, book("x")]]));
    await b.putBatch("inc", "run-1", summary(2), new Map([[3, book("y")]]));
    await b.putBatch("inc", "run-1", summary(1), new Map([[3, book("x")]]));
    await b.putBatch("inc", "run-2", summary(1), new Map([[3, book("other run")]]));
    a.close();
    b.close();
    const reader = new CountingStore(folder, "finalize-0");

    // Assess
    expect(await reader.countBatches("inc", "run-1")).toBe(2);
    expect((await reader.batchesOf("inc", "run-1")).map((s) => s.batchNo).sort()).toEqual([1, 2]);
    const books = await booksOf(reader.shardBooks("run-1", 3));
    expect(books.flatMap((b) => b.produced).sort()).toEqual(["x", "y"]);
    expect(books.flatMap((b) => b.eligible).sort()).toEqual(["g-x", "g-y"]);
    expect(await booksOf(reader.shardBooks("run-1", 4))).toEqual([]);
    expect(b.tally.items.batch.count).toBe(3);
    expect(b.tally.items.book.maxBytes).toBeGreaterThan(0);
  });

  it("keeps runs and the lock across instances, finds no stored line, and refuses a lost lock", async () => {
    const folder = mkdtempSync(join(tmpdir(), "hiwari-counting-store-"));
    const prepare = new CountingStore(folder, "prepare");
    await prepare.acquireLock("inc", "run-1", 60_000);
    const run = {
      incidentId: "inc",
      runId: "run-1",
      requestedBy: "t",
      reason: "t",
      dryRun: false,
      status: "running" as const,
      startedAt: "2022-07-05T00:00:00Z",
      policy: { rule: "full-24h", dayBasis: 30, rounding: "floor" },
      incidentDigest: "d",
      snapshotDigest: "s",
      snapshotName: "n",
      batchSize: 1000,
    };
    await prepare.putRun(run);

    const other = new CountingStore(folder, "complete");
    expect(await other.getRun("inc", "run-1")).toEqual(run);
    expect(await other.listRuns("inc")).toEqual([run]);
    await other.renewLock("inc", "run-1", 60_000);
    await other.renewLock("inc", "run-1", 60_000); // moments later: read, not written again
    expect(other.tally.items.lock.count).toBe(1);
    expect(other.tally.putItemCalls).toBe(1);
    expect(await other.linesLike("inc", [])).toEqual([]);
    await other.releaseLock("inc", "run-1");
    await expect(prepare.renewLock("inc", "run-1", 60_000)).rejects.toBeInstanceOf(LockLostError);
    expect(prepare.tally.items.run.count).toBe(1);
    expect(prepare.tally.items.lock.count).toBe(1);
  });
});
