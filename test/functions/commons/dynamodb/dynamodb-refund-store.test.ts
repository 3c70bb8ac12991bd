import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DynamoDbLocal, startDynamoDbLocal } from "../../../../bin/io/dynamodb-local";
import { createTables } from "../../../../functions/commons/dynamodb/create-tables";
import { DynamoDbRefundStore } from "../../../../functions/commons/dynamodb/dynamodb-refund-store";
import { reconcile, type StoredLine } from "../../../../shared/reconcile/reconcile";
import { ConcurrentChangeError, LockLostError, RunLockedError } from "../../../../shared/store/refund-store";
import { keyedLine } from "../../../helpers/factories";

// Against DynamoDB Local in memory, a fresh instance for this file.
let db: DynamoDbLocal;
let store: DynamoDbRefundStore;
beforeAll(async () => {
  db = await startDynamoDbLocal();
  await createTables(db.client, { refunds: "refunds", runs: "runs" });
  store = new DynamoDbRefundStore(db.client, { refunds: "refunds", runs: "runs" });
});
afterAll(async () => {
  await db?.stop();
});

const line = (id: string, amount: bigint) => keyedLine(id, amount);

describe("DynamoDbRefundStore", () => {
  it("stores new lines and reads them back by the ids of computed lines, amounts exact at any size", async () => {
    const big = 10n ** 30n + 7n;
    await store.writeChanges(reconcile([], [line("A", 20n), line("B", big)], "r1").changes);
    const stored = await store.linesLike("inc", [line("A", 0n), line("B", 0n), line("C", 0n)]);
    expect(stored.map((l) => [l.subscriptionId, l.amount, l.version, l.status]).sort()).toEqual([
      ["A", 20n, 1, "active"],
      ["B", big, 1, "active"],
    ]);
  });

  it("refuses a change computed from a version that is no longer stored: a race never applies twice", async () => {
    const [stored] = (await store.linesLike("inc", [line("A", 0n)])) as [StoredLine];
    const first = reconcile([stored], [line("A", 13n)], "r2").changes;
    const second = reconcile([stored], [line("A", 10n)], "r3").changes; // read the same version 1
    await store.writeChanges(first);
    await expect(store.writeChanges(second)).rejects.toThrow(ConcurrentChangeError);
    const [now] = await store.linesLike("inc", [line("A", 0n)]);
    expect([now?.amount, now?.version, now?.runId]).toEqual([13n, 2, "r2"]);
  });

  it("takes its own write, repeated after a lost response, as done", async () => {
    const [stored] = (await store.linesLike("inc", [line("A", 0n)])) as [StoredLine];
    const change = reconcile([stored], [line("A", 15n)], "r4").changes;
    await store.writeChanges(change);
    await expect(store.writeChanges(change)).resolves.toBeUndefined();
  });

  it("holds one run per incident: another run is refused, the same run re-enters, an expired lease is taken over", async () => {
    await store.acquireLock("inc", "run-a", 60_000);
    await expect(store.acquireLock("inc", "run-b", 60_000)).rejects.toThrow(RunLockedError);
    await expect(store.acquireLock("inc", "run-b", 60_000)).rejects.toThrow(/incident inc is being run by run-a/);
    await store.acquireLock("inc", "run-a", 1); // renewed with a lease that runs out at once
    await new Promise((r) => setTimeout(r, 20));
    await store.acquireLock("inc", "run-b", 60_000);
    await store.releaseLock("inc", "run-a"); // not a's any more: nothing happens
    await expect(store.renewLock("inc", "run-a", 60_000)).rejects.toThrow(LockLostError);
    expect(await store.breakLock("inc")).toBe("run-b");
    await expect(store.renewLock("inc", "run-b", 60_000)).rejects.toThrow(/no longer holds the lock/);
  });
});
