import { describe, expect, it } from "vitest";
import {
  batchItem,
  batchPartition,
  bookItem,
  bookPartition,
  lockItem,
  runCompletedItem,
} from "../../../../functions/commons/dynamodb/run-items";
import { SHARDS, ZERO_COUNTS } from "../../../../shared/store/refund-store";

// Keys of the runs table's items (docs/data-model.md): what the store queries by, so a change here strands
// every run recorded before it. Pure: the store's use of them is tested against DynamoDB Local.

describe("run items' keys", () => {
  it("keep an incident's lock, runs and proposals in its partition, and a run's batches and books in the run's", () => {
    expect(lockItem("inc", "run-1", 1_000)).toEqual({
      pk: { S: "INCIDENT#inc" },
      sk: { S: "LOCK" },
      runId: { S: "run-1" },
      expiresAt: { N: "1000" },
    });
    expect(batchPartition("run-1")).toBe("RUN#run-1");
    expect(bookPartition("run-1", 63)).toBe("RUN#run-1#SHARD#63");
  });

  it("number batch sort keys with seven digits, so that a run's batches sort in batch order", () => {
    const summary = (batchNo: number) => ({ batchNo, counts: ZERO_COUNTS, totals: [] });
    const keys = [1, 9, 10, 2_000, 1_234_567].map((n) => batchItem("inc", "run-1", summary(n)).sk?.S as string);
    expect(keys[0]).toBe("BATCH#0000001");
    expect([...keys].sort()).toEqual(keys);
    const book = bookItem("run-1", 12, SHARDS - 1, { produced: [], kept: [], eligible: [], protected: [] });
    expect([book.pk?.S, book.sk?.S]).toEqual(["RUN#run-1#SHARD#63", "BATCH#0000012"]);
  });

  it("put a completed run's marker in the refunds table under a key no line has (lines are incident#S#… or #G#…)", () => {
    const item = runCompletedItem({ incidentId: "inc", runId: "run-1" } as never);
    expect([item.pk?.S, item.sk?.S, item.kind?.S]).toEqual(["inc#RUN#run-1", "COMPLETED", "RUN_COMPLETED"]);
  });
});
