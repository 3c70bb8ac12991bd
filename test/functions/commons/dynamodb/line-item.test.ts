import { describe, expect, it } from "vitest";
import { indexSortKey, KEYS, toItem } from "../../../../functions/commons/dynamodb/line-item";
import { lineGroupOf } from "../../../../shared/reconcile/line-identity";
import type { StoredLine } from "../../../../shared/reconcile/reconcile";

const line = (subscriptionId: string): StoredLine => ({
  lineId: `inc#${subscriptionId}#2011-12-20`,
  subscriptionId,
  subscriberId: `subscriber-${subscriptionId}`,
  serviceCode: "DRIVENET",
  periodStart: "2011-12-01",
  periodEnd: "2012-01-01",
  unit: "day",
  units: 3,
  basis: 31,
  amount: 30n,
  currency: "JPY",
  version: 1,
  status: "active",
  runId: "run-1",
});

/** Pairs of consecutive keys (in write order) where the later sorts before the earlier. */
const descents = (keys: readonly string[]) => keys.slice(1).filter((k, i) => k < (keys[i] as string)).length;

describe("the index sort key", () => {
  it("spreads a snapshot sorted by id over each shard's key range instead of rising with it", () => {
    // Prepare: 20,000 ids in ascending order, as a snapshot sorted by subscription id writes them.
    const ids = Array.from({ length: 20_000 }, (_, i) => `sub-${String(i).padStart(8, "0")}`);

    // Act
    const keys = ids.map((id) => toItem("inc", line(id), "now")[KEYS.gsi1sk]?.S as string);

    // Assess: about half the consecutive pairs descend (all would rise without the prefix), and the first hex digit
    // takes each of its 16 values about equally often (every 16th of the range gets its share of the writes).
    expect(descents(keys)).toBeGreaterThan(keys.length * 0.45);
    expect(descents(keys)).toBeLessThan(keys.length * 0.55);
    const firstDigits = new Map<string, number>();
    for (const k of keys) firstDigits.set(k[0] as string, (firstDigits.get(k[0] as string) ?? 0) + 1);
    expect(firstDigits.size).toBe(16);
    for (const n of firstDigits.values()) expect(n).toBeGreaterThan((keys.length / 16) * 0.85);
  });

  it("is unique per line: the group and the line's sort key follow the prefix", () => {
    const group = lineGroupOf("inc", { subscriptionId: "sub-1", subscriberId: "" });
    expect(indexSortKey(group, "L#2011-12-01")).toMatch(new RegExp(`^[0-9a-f]{8}#${group}#L#2011-12-01$`));
    expect(indexSortKey(group, "L#2011-12-01")).toBe(indexSortKey(group, "L#2011-12-01"));
    expect(indexSortKey(group, "L#2012-01-01")).not.toBe(indexSortKey(group, "L#2011-12-01"));
  });
});
