import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { lineGroupOf } from "../../../shared/reconcile/line-identity";
import type { StoredLine } from "../../../shared/reconcile/reconcile";
import { shardOf } from "../../../shared/store/refund-store";

/** Attribute names of the refunds table's keys and index (the CDK constructs declare the same). */
export const KEYS = { pk: "pk", sk: "sk", gsi1: "gsi1", gsi1pk: "gsi1pk", gsi1sk: "gsi1sk" } as const;

export type Item = Record<string, AttributeValue>;

const s = (v: string): AttributeValue => ({ S: v });
const n = (v: number): AttributeValue => ({ N: String(v) });
const sOrNull = (v: string | null): AttributeValue => (v === null ? { NULL: true } : { S: v });

/** The index partition of an incident's shard: `incidentId#07`. */
export function shardKey(incidentId: string, shard: number): string {
  return `${incidentId}#${String(shard).padStart(2, "0")}`;
}

/** The incident of a line id (`incidentId#…`; incident ids hold no `#`). */
export const incidentOfLineId = (lineId: string) => lineId.slice(0, lineId.indexOf("#"));

/**
 * The index sort key of a line: a spread prefix (8 hex digits of a hash of the line group), then the group and the
 * line's sort key. Why the prefix: DynamoDB splits a busy index partition by sort-key ranges; with the group first,
 * a snapshot sorted by subscription id writes rising sort keys, every write lands at the end of the range, and no
 * split can spread them. Hashed, a first run's writes fall evenly over each shard's key range. The group follows
 * the prefix, so the key stays unique and readable.
 */
export function indexSortKey(group: string, sk: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < group.length; i++) h = Math.imul(h ^ group.charCodeAt(i), 0x01000193);
  // A finaliser (MurmurHash3's): the shard is FNV-1a modulo 64, so the raw low bits are already spent on it.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return `${(h >>> 0).toString(16).padStart(8, "0")}#${group}#${sk}`;
}

/** The table key of a line: its group as partition key, `L#<periodStart>` (goodwill `L#GOODWILL`) as sort key. */
export function keyOf(
  incidentId: string,
  line: Pick<StoredLine, "subscriptionId" | "subscriberId" | "periodStart">,
): Item {
  return { [KEYS.pk]: s(lineGroupOf(incidentId, line)), [KEYS.sk]: s(`L#${line.periodStart ?? "GOODWILL"}`) };
}

/**
 * A refund line as a DynamoDB item. Key: the line group (a subscription's or a subscriber's lines) as partition,
 * `L#<periodStart>` (goodwill `L#GOODWILL`) as sort key; the per-incident index `gsi1` spreads an incident over
 * SHARDS partition keys, and its sort key (indexSortKey) spreads each shard's writes over its key range. Amounts are strings: DynamoDB numbers stop at 38 digits, fees have no upper bound.
 */
export function toItem(incidentId: string, line: StoredLine, now: string): Item {
  const group = lineGroupOf(incidentId, line);
  const sk = `L#${line.periodStart ?? "GOODWILL"}`;
  return {
    [KEYS.pk]: s(group),
    [KEYS.sk]: s(sk),
    [KEYS.gsi1pk]: s(shardKey(incidentId, shardOf(group))),
    [KEYS.gsi1sk]: s(indexSortKey(group, sk)),
    kind: s("LINE"),
    incidentId: s(incidentId),
    lineId: s(line.lineId),
    subscriptionId: sOrNull(line.subscriptionId),
    subscriberId: s(line.subscriberId),
    serviceCode: sOrNull(line.serviceCode),
    periodStart: sOrNull(line.periodStart),
    periodEnd: sOrNull(line.periodEnd),
    unit: s(line.unit),
    units: n(line.units),
    basis: n(line.basis),
    amount: s(line.amount.toString()),
    currency: s(line.currency),
    version: n(line.version),
    status: s(line.status),
    runId: s(line.runId),
    ...(line.change ? { change: s(line.change) } : {}),
    updatedAt: s(now),
  };
}

function str(item: Item, name: string): string {
  const v = item[name];
  if (v?.S === undefined) throw new Error(`refund item: ${name} is not a string`);
  return v.S;
}
const strOrNull = (item: Item, name: string) => (item[name]?.NULL ? null : str(item, name));
const num = (item: Item, name: string) => Number(item[name]?.N);

/** A refund line from its item (a table read or a stream image). */
export function fromItem(item: Item): StoredLine {
  return {
    lineId: str(item, "lineId"),
    subscriptionId: strOrNull(item, "subscriptionId"),
    subscriberId: str(item, "subscriberId"),
    serviceCode: strOrNull(item, "serviceCode"),
    periodStart: strOrNull(item, "periodStart"),
    periodEnd: strOrNull(item, "periodEnd"),
    unit: str(item, "unit") as StoredLine["unit"],
    units: num(item, "units"),
    basis: num(item, "basis"),
    amount: BigInt(str(item, "amount")),
    currency: str(item, "currency"),
    version: num(item, "version"),
    status: str(item, "status") as StoredLine["status"],
    runId: str(item, "runId"),
    ...(item.change?.S ? { change: item.change.S as StoredLine["change"] } : {}),
  };
}
