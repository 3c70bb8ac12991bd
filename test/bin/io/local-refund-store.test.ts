import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient, GetItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DynamoDbLocal, localClientConfig, startDynamoDbLocal } from "../../../bin/io/dynamodb-local";
import { LocalRefundStore } from "../../../bin/io/local-refund-store";
import { DamagedStateError } from "../../../bin/usage-error";
import { createTables } from "../../../functions/commons/dynamodb/create-tables";
import { DynamoDbRefundStore } from "../../../functions/commons/dynamodb/dynamodb-refund-store";
import { LEASE_FRESH_MS, LockLostError, type ShardBook, ZERO_COUNTS } from "../../../shared/store/refund-store";

// Against DynamoDB Local in memory, a fresh instance for this file, and a state folder of its own; each test works
// on a run of its own.
const TABLES = { refunds: "refunds", runs: "runs" };
let db: DynamoDbLocal;
let state: string;
let store: LocalRefundStore;
beforeAll(async () => {
  db = await startDynamoDbLocal();
  await createTables(db.client, TABLES);
  state = mkdtempSync(join(tmpdir(), "hiwari-local-store-"));
  store = new LocalRefundStore(db.client, TABLES, state);
});
afterAll(async () => {
  await db?.stop();
  if (state) rmSync(state, { recursive: true, force: true });
});

const book = (...produced: string[]): ShardBook => ({ produced, kept: [], eligible: [], protected: [] });
const summary = (batchNo: number) => ({ batchNo, counts: { ...ZERO_COUNTS, rows: batchNo }, totals: [] });
const booksOf = async (runId: string, shard: number) => {
  const out: ShardBook[] = [];
  for await (const b of store.shardBooks(runId, shard)) out.push(b);
  return out;
};
type CallInput = {
  Key?: Record<string, { S?: string }>;
  Item?: Record<string, { S?: string }>;
  ExpressionAttributeValues?: Record<string, { S?: string }>;
};
/** A client of this file's DynamoDB Local that tells `seen` of each call (its command and input) before making it. */
function clientSeeing(seen: (command: string, input: CallInput) => void): DynamoDBClient {
  const client = new DynamoDBClient(localClientConfig(db.endpoint));
  client.middlewareStack.add(
    (next, context) => async (args) => {
      seen(context.commandName ?? "", args.input as CallInput);
      return next(args);
    },
    { step: "initialize" },
  );
  return client;
}
/** Whether a call is a Query of the runs table's partition `pk`. */
const queryOf = (pk: string) => (command: string, input: CallInput) =>
  command === "QueryCommand" && input.ExpressionAttributeValues?.[":pk"]?.S === pk;
const runItems = async () => (await db.client.send(new ScanCommand({ TableName: TABLES.runs }))).Items ?? [];

describe("LocalRefundStore: the shard books in the run's folder, the rest in DynamoDB Local", () => {
  it("keeps each batch's books in a file and only its record in the table, read back per shard in batch order", async () => {
    // Act: batches 10, 2 and 1 (numbers in another order than their names sort)
    await store.putBatch("inc", "run-files", summary(10), new Map([[3, book("c")]]));
    await store.putBatch(
      "inc",
      "run-files",
      summary(2),
      new Map([
        [3, book("b")],
        [7, book("x")],
      ]),
    );
    await store.putBatch("inc", "run-files", summary(1), new Map([[3, book("a")]]));

    // Assert
    expect(await booksOf("run-files", 3)).toEqual([book("a"), book("b"), book("c")]);
    expect(await booksOf("run-files", 7)).toEqual([book("x")]);
    expect(await booksOf("run-files", 4)).toEqual([]);
    expect(await booksOf("run-never", 3)).toEqual([]);
    expect(readdirSync(join(state, "runs", "run-files", "books")).sort()).toEqual([
      "batch-1.books",
      "batch-10.books",
      "batch-2.books",
    ]);
    expect(await store.countBatches("inc", "run-files")).toBe(3);
    expect((await store.batchesOf("inc", "run-files")).map((b) => b.batchNo).sort()).toEqual([1, 10, 2]);
    const keys = (await runItems()).map((i) => i.pk?.S ?? "");
    expect(keys.filter((pk) => pk.startsWith("RUN#run-files#SHARD#"))).toEqual([]);
    expect(keys.filter((pk) => pk === "RUN#run-files")).toHaveLength(3);
  });

  it("reads each shard's book alone from a batch's file, whatever the books' sizes and characters", async () => {
    // Arrange: every shard's book in one batch, of different lengths, with CJK ids and quotes
    const books = new Map(
      Array.from({ length: 64 }, (_, shard) => [
        shard,
        book(...Array.from({ length: shard * 7 }, (_, i) => `加入者-"${shard}"-${i}`)),
      ]),
    );

    // Act
    await store.putBatch("inc", "run-all", summary(3), books);

    // Assert
    for (const [shard, expected] of books) expect(await booksOf("run-all", shard)).toEqual([expected]);
  });

  it("replaces a retried batch's books whole, and reads no file a write left unfinished", async () => {
    // Arrange: a write cut short beside the batch's file
    await store.putBatch(
      "inc",
      "run-retry",
      summary(1),
      new Map([
        [5, book("old")],
        [6, book("gone")],
      ]),
    );
    writeFileSync(join(state, "runs", "run-retry", "books", "batch-2.books.partial"), '{"5":[0,99]}\n{"produced":[');

    // Act: the retry touches shard 5 only
    await store.putBatch("inc", "run-retry", summary(1), new Map([[5, book("new")]]));

    // Assert
    expect(await booksOf("run-retry", 5)).toEqual([book("new")]);
    expect(await booksOf("run-retry", 6)).toEqual([]);
    expect(await store.countBatches("inc", "run-retry")).toBe(1);
  });

  it("reads the books a run wrote as items before an upgrade, a batch's file standing over its items", async () => {
    // Arrange: a run begun by the version before (books as items): batches 1 and 3; then, resumed by this one,
    // batch 3 computed again and batch 2 for the first time
    const before = new DynamoDbRefundStore(db.client, TABLES);
    await before.putBatch(
      "inc",
      "run-upgraded",
      summary(1),
      new Map([
        [4, book("one")],
        [5, book("one, shard 5")],
      ]),
    );
    await before.putBatch(
      "inc",
      "run-upgraded",
      summary(3),
      new Map([
        [4, book("three, first attempt")],
        [5, book("x")],
      ]),
    );

    // Act
    await store.putBatch("inc", "run-upgraded", summary(3), new Map([[4, book("three")]]));
    await store.putBatch("inc", "run-upgraded", summary(2), new Map([[4, book("two")]]));

    // Assert: every batch's book once, in batch order; batch 3's later attempt alone (it no longer touches shard 5);
    // the second shard, which relies on what the first found of the batch records, reads the items too
    expect(await booksOf("run-upgraded", 4)).toEqual([book("one"), book("two"), book("three")]);
    expect(await booksOf("run-upgraded", 5)).toEqual([book("one, shard 5")]);
    expect(await store.countBatches("inc", "run-upgraded")).toBe(3);
  });

  it("stops on a batch recorded with its books in a file that is gone, naming the file and what to do", async () => {
    // Arrange: two batches recorded; then batch 2's file lost (a folder restored apart from the tables)
    await store.putBatch("inc", "run-lost", summary(1), new Map([[4, book("one")]]));
    await store.putBatch("inc", "run-lost", summary(2), new Map());
    const lost = join(state, "runs", "run-lost", "books", "batch-2.books");
    rmSync(lost);

    // Act
    const error = await booksOf("run-lost", 4).catch((e: unknown) => e);

    // Assert: not the books of batch 1 alone, which would void batch 2's lines
    expect(error).toBeInstanceOf(DamagedStateError);
    expect((error as Error).message).toBe(
      `run run-lost: batch 2 is recorded, but its books (${lost}) are missing: restore the run's folder under runs/ ` +
        "with the tables under dynamodb/ (docs/operations.md), or run the incident again as a new request (without " +
        "--request-id)",
    );
  });

  it("reads the batch records once a run while the same files are there, and again (checking them) once one is gone", async () => {
    // Arrange: a store whose client counts its Queries of the run's batch records; two batches
    let queries = 0;
    const client = clientSeeing((command, input) => {
      if (queryOf("RUN#run-once")(command, input)) queries++;
    });
    const counted = new LocalRefundStore(client, TABLES, state);
    await counted.putBatch("inc", "run-once", summary(1), new Map([[4, book("one")]]));
    await counted.putBatch("inc", "run-once", summary(2), new Map([[5, book("two")]]));
    const booksOfRun = async (shard: number) => {
      const out: ShardBook[] = [];
      for await (const b of counted.shardBooks("run-once", shard)) out.push(b);
      return out;
    };

    // Act: every shard, as a finalize reads them; then a batch more (a file added), a shard read again; then batch
    // 2's file lost, and a shard read again
    const read = [];
    for (let shard = 0; shard < 64; shard++) read.push(...(await booksOfRun(shard)));
    const once = queries;
    await counted.putBatch("inc", "run-once", summary(3), new Map([[4, book("three")]]));
    const added = await booksOfRun(4);
    const afterAdded = queries;
    rmSync(join(state, "runs", "run-once", "books", "batch-2.books"));
    const error = await booksOfRun(4).catch((e: unknown) => e);

    // Assert
    expect(read).toEqual([book("one"), book("two")]);
    expect(once).toBe(1);
    expect(added).toEqual([book("one"), book("three")]);
    expect(afterAdded).toBe(2);
    expect(error).toBeInstanceOf(DamagedStateError);
    expect(queries).toBe(3);
    client.destroy();
  });

  it("renews a lease it knows to be long enough without reading it, and reads the lock again once it changed it", async () => {
    // Arrange: a store whose client counts its calls on the incident's lock
    const calls: string[] = [];
    const client = clientSeeing((command, input) => {
      if ((input.Key ?? input.Item)?.pk?.S === "INCIDENT#inc-lease") calls.push(command);
    });
    const leased = new LocalRefundStore(client, TABLES, state);
    const lease = async () => {
      const { Item } = await db.client.send(
        new GetItemCommand({ TableName: TABLES.runs, Key: { pk: { S: "INCIDENT#inc-lease" }, sk: { S: "LOCK" } } }),
      );
      return Number(Item?.expiresAt?.N);
    };

    // Act 1: the lock taken, then renewed by 64 steps, as a finalize's shards do
    await leased.acquireLock("inc-lease", "run-a", 60_000);
    for (let step = 0; step < 64; step++) await leased.renewLock("inc-lease", "run-a", 60_000);
    const renewed = [...calls];
    const renewedAt = Date.now();
    const expiresAt = await lease();

    // Act 2: the lock broken by this store while its lease is long, then renewed; then taken again, renewed, and a
    // shorter lease asked (fail-run's drain)
    calls.length = 0;
    await leased.breakLock("inc-lease");
    const lost = await leased.renewLock("inc-lease", "run-a", 60_000).catch((e: unknown) => e);
    await leased.acquireLock("inc-lease", "run-a", 60_000);
    await leased.renewLock("inc-lease", "run-a", 60_000);
    await leased.renewLock("inc-lease", "run-a", 1_000);
    const drainAt = Date.now();
    const drained = await lease();

    // Assess: one read and one write for the 64 renewals, the lease long enough; after the break, the renewal read
    // the lock and found it gone; the drain read the lock and wrote a shorter lease
    expect(renewed.filter((c) => c === "GetItemCommand")).toHaveLength(1); // the renewals' one read
    expect(renewed[0]).toBe("PutItemCommand"); // the lock taken; then a write only if the lease was short
    expect(expiresAt).toBeGreaterThanOrEqual(renewedAt + 60_000);
    expect(lost).toBeInstanceOf(LockLostError);
    expect(calls).toEqual([
      "DeleteItemCommand",
      "GetItemCommand",
      "PutItemCommand",
      "GetItemCommand",
      "PutItemCommand",
      "GetItemCommand",
      "PutItemCommand",
    ]);
    expect(drained).toBeLessThanOrEqual(drainAt + 1_000 + LEASE_FRESH_MS);
    client.destroy();
  });

  it("reads the lock again after releasing it, and for another run than the one whose lease it knows", async () => {
    // Arrange
    const leased = new LocalRefundStore(db.client, TABLES, state);
    await leased.acquireLock("inc-release", "run-a", 60_000);
    await leased.renewLock("inc-release", "run-a", 60_000); // the lease now known, long

    // Act: another run's renewal while run-a's lease is known; then run-a's lock released, and renewed
    const other = await leased.renewLock("inc-release", "run-b", 60_000).catch((e: unknown) => e);
    await leased.releaseLock("inc-release", "run-a");
    const released = await leased.renewLock("inc-release", "run-a", 60_000).catch((e: unknown) => e);

    // Assess
    expect(other).toBeInstanceOf(LockLostError);
    expect(released).toBeInstanceOf(LockLostError);
  });

  it("keeps nothing a read in flight across its own change saw: a release meanwhile is not undone", async () => {
    // Arrange: a client whose GetItem of the lock answers only once the release has been sent
    const client = new DynamoDBClient(localClientConfig(db.endpoint));
    let releasing: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      releasing = resolve;
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const answer = await next(args);
        if (context.commandName === "GetItemCommand") await released;
        return answer;
      },
      { step: "initialize" },
    );
    const leased = new LocalRefundStore(client, TABLES, state);
    // The lock taken and renewed through another store: a lease the table holds long enough, this store knows none
    const writer = new LocalRefundStore(db.client, TABLES, state);
    await writer.acquireLock("inc-inflight", "run-a", 60_000);
    await new Promise((r) => setTimeout(r, 5));
    await writer.renewLock("inc-inflight", "run-a", 60_000);

    // Act: a renewal reads the lock (run-a's, long enough: nothing to write) while this store releases it; then a
    // renewal again
    const renewing = leased.renewLock("inc-inflight", "run-a", 60_000).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await leased.releaseLock("inc-inflight", "run-a");
    releasing(); // the renewal's answer, read before the release, arrives after it
    await renewing;
    const after = await leased.renewLock("inc-inflight", "run-a", 60_000).catch((e: unknown) => e);

    // Assess: the lease the first renewal saw is not taken as known after the release
    expect(after).toBeInstanceOf(LockLostError);
    client.destroy();
  });

  it("reads a run's builds from the table once, and again after noting one", async () => {
    // Arrange: a store whose client counts its Queries of the run's builds; a build noted before (another process)
    let queries = 0;
    const client = clientSeeing((command, input) => {
      if (queryOf("RUN#run-builds#BUILDS")(command, input)) queries++;
    });
    await store.noteBuild("run-builds", "earlier");
    const noting = new LocalRefundStore(client, TABLES, state);

    // Act (another run's builds read between: each run's its own)
    const first = [];
    for (let step = 0; step < 10; step++) first.push(await noting.buildsOf("run-builds"));
    const another = await noting.buildsOf("run-builds-other");
    await noting.noteBuild("run-builds", "this");
    const after = [];
    for (let step = 0; step < 10; step++) after.push(await noting.buildsOf("run-builds"));

    // Assess
    expect(first).toEqual(Array.from({ length: 10 }, () => ["earlier"]));
    expect(another).toEqual([]);
    expect(after.map((b) => [...b].sort())).toEqual(Array.from({ length: 10 }, () => ["earlier", "this"]));
    expect(queries).toBe(2);
    client.destroy();
  });

  it("records no batch whose books could not be written, and says where", async () => {
    // Arrange: the batch's file cannot be put in place (a folder, not empty, stands where it would go)
    mkdirSync(join(state, "runs", "run-broken", "books", "batch-1.books"), { recursive: true });
    writeFileSync(join(state, "runs", "run-broken", "books", "batch-1.books", "x"), "");

    // Act
    const error = await store
      .putBatch(
        "inc",
        "run-broken",
        summary(1),
        new Map([
          [8, book("a")],
          [9, book("b")],
        ]),
      )
      .catch((e: unknown) => e);

    // Assert: a resumed run computes the batch again rather than skipping it without its books
    expect((error as Error).message).toContain(join("run-broken", "books", "batch-1.books"));
    expect(await store.countBatches("inc", "run-broken")).toBe(0);
  });
});
