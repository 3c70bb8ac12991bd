import { goodwillLine } from "../engine/compute-subscription";
import { lineGroupOf, lineIdOf } from "../reconcile/line-identity";
import { type KeyedLine, type LineChange, reconcile, type StoredLine } from "../reconcile/reconcile";
import {
  addCounts,
  type RefundStore,
  type RunCounts,
  SHARDS,
  shardOf,
  type TotalLine,
  ZERO_COUNTS,
} from "../store/refund-store";
import type { RunContext } from "./run-context";

export interface FinalizeResult {
  counts: RunCounts;
  totals: TotalLine[];
  changes: LineChange[];
}

const GOODWILL_MARK = "#G#";

/** The subscriber id inside a goodwill line group (`incident#G#<encoded subscriber>`). */
function subscriberOf(group: string): string {
  return decodeURIComponent(group.slice(group.indexOf(GOODWILL_MARK) + GOODWILL_MARK.length));
}

/**
 * One shard of the incident's lines after all batches: void the standing lines this run no longer produced
 * (subscriptions absent from the snapshot, periods no longer suspended) but for subscriptions with a rejected row,
 * settle goodwill (due to eligible subscribers, kept for subscribers with a rejected row, voided otherwise), and
 * total what is owed now. Holds one shard's ids at a time, never the whole snapshot's.
 */
export async function finalizeShard(
  context: RunContext,
  shard: number,
  store: RefundStore,
  overlay: readonly LineChange[] = [],
) {
  const { incident, runId } = context;
  const book = await store.shardBooksOf(runId, shard);
  const produced = new Set(book.produced);
  const keptGroups = new Set(book.kept);
  const eligible = new Set(book.eligible);
  const kept = new Set(book.protected);
  const absent: StoredLine[] = [];
  const storedGoodwill: StoredLine[] = [];
  const standing = new Map<string, StoredLine>();
  for await (const page of store.linesOfShard(incident.incidentId, shard)) {
    for (const line of page) {
      const group = lineGroupOf(incident.incidentId, line);
      if (line.subscriptionId === null) storedGoodwill.push(line);
      else if (line.status === "active" && !produced.has(line.lineId) && !keptGroups.has(group)) absent.push(line);
      if (line.status === "active") standing.set(line.lineId, line);
    }
  }
  // A dry run wrote nothing in its batches: lay their changes over what is stored, as a real run would have them.
  for (const c of overlay) {
    if (c.next.status === "active") standing.set(c.next.lineId, c.next);
    else standing.delete(c.next.lineId);
  }
  // Goodwill due now: one line per eligible subscriber; a protected subscriber keeps what is stored.
  const dueGoodwill: KeyedLine[] = [];
  for (const group of eligible) {
    const line = goodwillLine(incident, subscriberOf(group));
    if (line) dueGoodwill.push({ ...line, lineId: lineIdOf(incident.incidentId, line) });
  }
  const eligibleIds = new Set(dueGoodwill.map((l) => l.lineId));
  for (const line of storedGoodwill) {
    if (line.status === "active" && !eligibleIds.has(line.lineId) && kept.has(lineGroupOf(incident.incidentId, line))) {
      dueGoodwill.push(line);
    }
  }
  const voids = reconcile(absent, [], runId).changes;
  const goodwill = reconcile(storedGoodwill, dueGoodwill, runId);
  const changes = [...voids, ...goodwill.changes];
  if (!context.dryRun) await store.writeChanges(changes, { exclusive: context.fresh });

  const counts = { ...ZERO_COUNTS, unchanged: goodwill.unchanged };
  for (const c of changes) {
    counts[c.kind]++;
    if (c.next.status === "active") standing.set(c.next.lineId, c.next);
    else standing.delete(c.next.lineId);
  }
  return { counts, standing: [...standing.values()], changes };
}

/**
 * Finalizes a run after its batches: every shard (a few at a time), then the run's counts and totals of what
 * is owed now per service and currency. Writing the run record and `Refund Run Completed` is the caller's.
 */
export interface FinalizeOptions {
  /** A dry run's batch changes (not written), laid over what is stored. */
  dryRunBatchChanges?: readonly LineChange[];
  concurrency?: number;
  /** Called before each shard: the caller renews its lock there (throws to stop). */
  beforeShard?: () => Promise<void>;
}

export async function finalizeRun(
  context: RunContext,
  store: RefundStore,
  options: FinalizeOptions = {},
): Promise<FinalizeResult> {
  const concurrency = options.concurrency ?? 8;
  const overlay = new Map<number, LineChange[]>();
  for (const c of options.dryRunBatchChanges ?? []) {
    const shard = shardOf(lineGroupOf(context.incident.incidentId, c.next));
    const list = overlay.get(shard);
    if (list) list.push(c);
    else overlay.set(shard, [c]);
  }
  let counts = { ...ZERO_COUNTS };
  for (const batch of await store.batchesOf(context.incident.incidentId, context.runId))
    counts = addCounts(counts, batch.counts);
  const totals = new Map<string, { serviceCode: string | null; currency: string; lines: number; amount: bigint }>();
  const changes: LineChange[] = [];
  let next = 0;
  const worker = async () => {
    while (next < SHARDS) {
      const shard = next++;
      await options.beforeShard?.();
      const result = await finalizeShard(context, shard, store, overlay.get(shard));
      counts = addCounts(counts, result.counts);
      // Only a dry run reports its changes; a real run's are in the store (and a shard may hold 500,000).
      if (context.dryRun) for (const c of result.changes) changes.push(c);
      for (const line of result.standing) {
        const key = `${line.serviceCode ?? ""}\u0000${line.currency}`;
        const total = totals.get(key) ?? {
          serviceCode: line.serviceCode,
          currency: line.currency,
          lines: 0,
          amount: 0n,
        };
        total.lines++;
        total.amount += line.amount;
        totals.set(key, total);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const sorted = [...totals.values()]
    .sort(
      (a, b) =>
        (a.serviceCode ?? "\uffff").localeCompare(b.serviceCode ?? "\uffff") || a.currency.localeCompare(b.currency),
    )
    .map((t) => ({ ...t, amount: t.amount.toString() }));
  return { counts, totals: sorted, changes };
}
