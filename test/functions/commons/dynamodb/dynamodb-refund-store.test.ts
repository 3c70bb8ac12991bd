import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DynamoDbLocal, startDynamoDbLocal } from "../../../../bin/io/dynamodb-local";
import { createTables } from "../../../../functions/commons/dynamodb/create-tables";
import { DynamoDbRefundStore } from "../../../../functions/commons/dynamodb/dynamodb-refund-store";
import { lockKey } from "../../../../functions/commons/dynamodb/run-items";
import type { Proposal } from "../../../../shared/pipeline/proposal";
import { reconcile, type StoredLine } from "../../../../shared/reconcile/reconcile";
import {
  ConcurrentChangeError,
  LEASE_FRESH_MS,
  LockLostError,
  RunLockedError,
  ZERO_COUNTS,
} from "../../../../shared/store/refund-store";
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

// Each test works on an incident of its own (and seeds what it reads), so any one of them passes alone or in any
// order on the file's one DynamoDB Local.
const lineOf = (incidentId: string, id: string, amount: bigint) =>
  keyedLine(id, amount, { lineId: `${incidentId}#S#${id}#2011-12-01` });

/** Stores version 1 of each line (as a first run would) and returns them as stored. */
async function seeded(incidentId: string, lines: [string, bigint][]): Promise<StoredLine[]> {
  const computed = lines.map(([id, amount]) => lineOf(incidentId, id, amount));
  await store.writeChanges(reconcile([], computed, "r1").changes);
  return store.linesLike(incidentId, computed);
}

describe("DynamoDbRefundStore", () => {
  it("stores new lines and reads them back by the ids of computed lines, amounts exact at any size", async () => {
    const line = (id: string, amount: bigint) => lineOf("inc-new", id, amount);
    const big = 10n ** 30n + 7n;
    await store.writeChanges(reconcile([], [line("A", 20n), line("B", big)], "r1").changes);
    const stored = await store.linesLike("inc-new", [line("A", 0n), line("B", 0n), line("C", 0n)]);
    expect(stored.map((l) => [l.subscriptionId, l.amount, l.version, l.status]).sort()).toEqual([
      ["A", 20n, 1, "active"],
      ["B", big, 1, "active"],
    ]);
  });

  it("refuses a change computed from a version that is no longer stored: a race never applies twice", async () => {
    const line = (id: string, amount: bigint) => lineOf("inc-race", id, amount);
    const [stored] = (await seeded("inc-race", [["A", 20n]])) as [StoredLine];
    const first = reconcile([stored], [line("A", 13n)], "r2").changes;
    const second = reconcile([stored], [line("A", 10n)], "r3").changes; // read the same version 1
    await store.writeChanges(first);
    await expect(store.writeChanges(second)).rejects.toThrow(ConcurrentChangeError);
    const [now] = await store.linesLike("inc-race", [line("A", 0n)]);
    expect([now?.amount, now?.version, now?.runId]).toEqual([13n, 2, "r2"]);
  });

  it("takes its own write, repeated after a lost response, as done", async () => {
    const [stored] = (await seeded("inc-repeat", [["A", 20n]])) as [StoredLine];
    const change = reconcile([stored], [lineOf("inc-repeat", "A", 15n)], "r4").changes;
    await store.writeChanges(change);
    await expect(store.writeChanges(change)).resolves.toBeUndefined();
    const [now] = await store.linesLike("inc-repeat", [lineOf("inc-repeat", "A", 0n)]);
    expect([now?.amount, now?.version]).toEqual([15n, 2]); // applied once
  });

  it("holds one run per incident: another run is refused, the same run re-enters, an expired lease is taken over", async () => {
    await store.acquireLock("inc-lock", "run-a", 60_000);
    await expect(store.acquireLock("inc-lock", "run-b", 60_000)).rejects.toThrow(RunLockedError);
    await expect(store.acquireLock("inc-lock", "run-b", 60_000)).rejects.toThrow(
      /incident inc-lock is being run by run-a/,
    );
    await store.acquireLock("inc-lock", "run-a", 1); // renewed with a lease that runs out at once
    await new Promise((r) => setTimeout(r, 20));
    await store.acquireLock("inc-lock", "run-b", 60_000);
    await store.releaseLock("inc-lock", "run-a"); // not a's any more: nothing happens
    await expect(store.renewLock("inc-lock", "run-a", 60_000)).rejects.toThrow(LockLostError);
    expect(await store.breakLock("inc-lock")).toBe("run-b");
    await expect(store.renewLock("inc-lock", "run-b", 60_000)).rejects.toThrow(/no longer holds the lock/);
  });
  it("renews a lease only when it is not the one asked already: moments after a renewal it reads, and a drain shortens it", async () => {
    // Arrange: the lock as a step would find it 20 s after another step renewed it for 15 minutes
    const lease = 15 * 60 * 1000;
    const renewedAt = Date.now();
    const expiry = async () =>
      Number(
        (
          await db.client.send(
            new GetItemCommand({ TableName: "runs", Key: lockKey("inc-lease"), ConsistentRead: true }),
          )
        ).Item?.expiresAt?.N,
      );
    await store.acquireLock("inc-lease", "run-a", lease + LEASE_FRESH_MS - 20_000);

    // Act + Assert: renewed (20 s old), then left as it is (moments old), then shortened (fail's drain)
    await store.renewLock("inc-lease", "run-a", lease);
    const renewed = await expiry();
    expect(renewed).toBeGreaterThanOrEqual(renewedAt + lease + LEASE_FRESH_MS);
    await new Promise((r) => setTimeout(r, 5));
    await store.renewLock("inc-lease", "run-a", lease);
    expect(await expiry()).toBe(renewed);
    const asked = Date.now();
    await store.renewLock("inc-lease", "run-a", 60_000);
    const drained = await expiry();
    expect(drained).toBeGreaterThanOrEqual(asked + 60_000 + LEASE_FRESH_MS);
    expect(drained).toBeLessThanOrEqual(Date.now() + 60_000 + LEASE_FRESH_MS);
    await expect(store.renewLock("inc-lease", "run-b", lease)).rejects.toThrow(LockLostError);
    await store.releaseLock("inc-lease", "run-a");
    await expect(store.renewLock("inc-lease", "run-a", lease)).rejects.toThrow(LockLostError);
  });

  it("notes each build that ran a step of a run once, apart from other runs and from the run's batches and books", async () => {
    // Arrange: a batch of the run recorded before, and another run's build
    const summary = { batchNo: 1, counts: { ...ZERO_COUNTS, rows: 1 }, totals: [] };
    await store.putBatch(
      "inc-build",
      "run-b1",
      summary,
      new Map([[3, { produced: ["x"], kept: [], eligible: [], protected: [] }]]),
    );
    await store.noteBuild("run-b2", "c0ffee");

    // Act: two builds, one of them noted twice (a retried step)
    expect(await store.buildsOf("run-b1")).toEqual([]);
    for (const build of ["a1b2c3", "source", "a1b2c3"]) await store.noteBuild("run-b1", build);

    // Assert
    expect((await store.buildsOf("run-b1")).sort()).toEqual(["a1b2c3", "source"]);
    expect(await store.countBatches("inc-build", "run-b1")).toBe(1);
    const books = [];
    for await (const book of store.shardBooks("run-b1", 3)) books.push(book);
    expect(books).toEqual([{ produced: ["x"], kept: [], eligible: [], protected: [] }]);
  });
});

describe("DynamoDbRefundStore: proposals (four eyes), beside the runs", () => {
  const proposal = (proposalId: string, proposedAt: string): Proposal => ({
    incidentId: "inc-proposals",
    proposalId,
    state: "open",
    proposedBy: "alice",
    reason: "r",
    proposedAt,
    previewRunId: `run-${proposalId}`,
    baseRunId: null,
    writers: [],
    incidentDigest: "i",
    snapshotName: "s.csv",
    snapshotDigest: "s",
    counts: { rows: 1, computed: 1, skipped: 0, rejected: 0, calculated: 1, adjusted: 0, voided: 0, unchanged: 0 },
    totals: [{ serviceCode: "IMADOKO", currency: "JPY", lines: 1, amount: "20" }],
  });

  it("creates each once, moves it on only from the state it is in, lists them in order, and leaves the runs alone", async () => {
    // Arrange
    const later = proposal("prop-b", "2011-12-25T00:00:00.000Z");
    const earlier = proposal("prop-a", "2011-12-24T00:00:00.000Z");

    // Act
    const created = [await store.createProposal(later), await store.createProposal(earlier)];
    const twice = await store.createProposal({ ...later, proposedBy: "mallory" });
    const approved = await store.updateProposal({ ...later, state: "approved", approvedBy: "bob" }, "open");
    const raced = await store.updateProposal({ ...later, state: "approved", approvedBy: "carol" }, "open");

    // Assess
    expect(created).toEqual([true, true]);
    expect(twice).toBe(false);
    expect([approved, raced]).toEqual([true, false]);
    expect(await store.getProposal("inc-proposals", "prop-b")).toEqual({
      ...later,
      state: "approved",
      approvedBy: "bob",
    });
    expect(await store.getProposal("inc-proposals", "prop-x")).toBeUndefined();
    expect((await store.listProposals("inc-proposals")).map((p) => [p.proposalId, p.state])).toEqual([
      ["prop-a", "open"],
      ["prop-b", "approved"],
    ]);
    expect(await store.listRuns("inc-proposals")).toEqual([]);
  });
});
