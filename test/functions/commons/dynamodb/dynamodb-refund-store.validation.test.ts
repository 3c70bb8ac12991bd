import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DynamoDbLocal, startDynamoDbLocal } from "../../../../bin/io/dynamodb-local";
import { createTables } from "../../../../functions/commons/dynamodb/create-tables";
import { DynamoDbRefundStore } from "../../../../functions/commons/dynamodb/dynamodb-refund-store";
import {
  RunLockedError,
  type RunRecord,
  StoreValidationError,
  ZERO_COUNTS,
} from "../../../../shared/store/refund-store";

// Against DynamoDB Local in memory, a fresh instance for this file: what DynamoDB refuses as invalid, it refuses
// again, so the store names it a permanent error (the state machine does not retry it) and keeps DynamoDB's as cause.
const TABLES = { refunds: "refunds", runs: "runs" };
let db: DynamoDbLocal;
let store: DynamoDbRefundStore;
beforeAll(async () => {
  db = await startDynamoDbLocal();
  await createTables(db.client, TABLES);
  store = new DynamoDbRefundStore(db.client, TABLES);
});
afterAll(async () => {
  await db?.stop();
});

/** A run record of `errorBytes` bytes of error text: DynamoDB holds an item up to 400 KB. */
const runOf = (runId: string, errorBytes: number): RunRecord => ({
  incidentId: "inc-validation",
  runId,
  requestedBy: "alice",
  reason: "r",
  dryRun: false,
  status: "failed",
  startedAt: "2012-01-10T01:00:00.000Z",
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  incidentDigest: "i",
  snapshotDigest: "s",
  snapshotName: "s.csv",
  batchSize: 1000,
  error: "x".repeat(errorBytes),
});

describe("DynamoDbRefundStore: a request DynamoDB refuses as invalid (ValidationException)", () => {
  it("refuses a put of an item over 400 KB with a StoreValidationError, DynamoDB's error as its cause", async () => {
    const error = await store.putRun(runOf("run-big", 410_000)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StoreValidationError);
    expect(error).toMatchObject({ name: "StoreValidationError", permanent: true });
    expect((error as Error).message).toMatch(/^the store refused the request: .*size/i);
    expect((error as Error).cause).toMatchObject({ name: "ValidationException" });
    expect(await store.getRun("inc-validation", "run-big")).toBeUndefined();
  });

  it("refuses a batched write holding an item over 400 KB the same way (a shard's book of long ids)", async () => {
    const produced = Array.from({ length: 5_000 }, (_, i) => `${"s".repeat(90)}-${i}`); // ~500 KB of ids

    const error = await store
      .putBatch(
        "inc-validation",
        "run-books",
        { batchNo: 1, counts: ZERO_COUNTS, totals: [] },
        new Map([[7, { produced, kept: [], eligible: [], protected: [] }]]),
      )
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StoreValidationError);
    expect((error as Error).cause).toMatchObject({ name: "ValidationException" });
    expect(await store.countBatches("inc-validation", "run-books")).toBe(0);
  });

  it("records no batch whose books were not all written: the summary goes after the last book", async () => {
    // Arrange: 64 books, three writes of 25; only the last shard's is refused (over 400 KB)
    const book = (produced: string[]) => ({ produced, kept: [], eligible: [], protected: [] });
    const books = new Map(Array.from({ length: 64 }, (_, shard) => [shard, book([`line-${shard}`])]));
    books.set(63, book(Array.from({ length: 5_000 }, (_, i) => `${"s".repeat(90)}-${i}`)));

    // Act
    const error = await store
      .putBatch("inc-validation", "run-late-book", { batchNo: 1, counts: ZERO_COUNTS, totals: [] }, books)
      .catch((e: unknown) => e);

    // Assert: a resumed run would skip a recorded batch, so a recorded batch must have every book
    expect(error).toBeInstanceOf(StoreValidationError);
    expect(await store.countBatches("inc-validation", "run-late-book")).toBe(0);
  });

  it("passes every other error as it was, and maps once however many stores share the client", async () => {
    const other = new DynamoDbRefundStore(db.client, TABLES);
    await store.putRun(runOf("run-small", 10));
    await other.acquireLock("inc-validation", "run-a", 60_000);

    await expect(store.acquireLock("inc-validation", "run-b", 60_000)).rejects.toThrow(RunLockedError);
    expect(await other.getRun("inc-validation", "run-small")).toMatchObject({ runId: "run-small" });
    expect(db.client.middlewareStack.identify().filter((m) => m.includes("hiwariStoreValidationError"))).toHaveLength(
      1,
    );
  });
});
