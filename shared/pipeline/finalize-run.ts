import { lineGroupOf, lineIdOf } from "../reconcile/line-identity";
import { type KeyedLine, reconcile, type StoredLine } from "../reconcile/reconcile";
import { goodwillLine } from "../rules/goodwill";
import { type RefundStore, ZERO_COUNTS } from "../store/refund-store";
import type { RunContext } from "./run-context";

const GOODWILL_MARK = "#G#";

/** The subscriber id inside a goodwill line group (`incident#G#<encoded subscriber>`). */
function subscriberOf(group: string): string {
  return decodeURIComponent(group.slice(group.indexOf(GOODWILL_MARK) + GOODWILL_MARK.length));
}

/**
 * One shard of the incident's lines after all batches: void the standing lines this run no longer produced
 * (subscriptions absent from the snapshot, periods no longer suspended) but for subscriptions with a rejected row,
 * settle goodwill (due to eligible subscribers, kept for subscribers with a rejected row, voided otherwise), and
 * total what stands in the shard besides the lines the batches produced (which they totalled themselves).
 * Holds one shard's ids at a time, never the whole snapshot's.
 *
 * The index (`linesOfShard`) is eventually consistent, so it only names candidates: the lines to void and the
 * goodwill lines are read again from the table, consistently, before anything is decided or written.
 */
export async function finalizeShard(context: RunContext, shard: number, store: RefundStore) {
  const { incident, runId } = context;
  const book = await store.shardBooksOf(runId, shard);
  const produced = new Set(book.produced);
  const keptGroups = new Set(book.kept);
  const keptGoodwill = new Set(book.protected);
  const candidates: StoredLine[] = [];
  const keptLines: StoredLine[] = [];
  // On an incident's first run nothing stood before it: every line in the shard is one its batches produced, and
  // no goodwill line exists but those a retried shard already wrote (rewritten as they are: version 1, no event).
  // So neither the shard's lines nor the goodwill due are read: 36 M reads at KDDI size, for nothing.
  const lines = context.fresh ? [] : store.linesOfShard(incident.incidentId, shard);
  for await (const page of lines) {
    for (const line of page) {
      if (line.subscriptionId === null) candidates.push(line);
      else if (line.status === "active" && !produced.has(line.lineId)) {
        if (keptGroups.has(lineGroupOf(incident.incidentId, line))) keptLines.push(line);
        else candidates.push(line);
      }
    }
  }
  // Goodwill due now: one line per eligible subscriber.
  const dueGoodwill: KeyedLine[] = [];
  for (const group of new Set(book.eligible)) {
    const line = goodwillLine(incident, subscriberOf(group));
    if (line) dueGoodwill.push({ ...line, lineId: lineIdOf(incident.incidentId, line) });
  }
  const dueIds = new Set(dueGoodwill.map((l) => l.lineId));
  const unique = new Map<string, KeyedLine>();
  for (const l of [...candidates, ...dueGoodwill]) unique.set(l.lineId, l);
  const current =
    unique.size === 0 || context.fresh ? [] : await store.linesLike(incident.incidentId, [...unique.values()]);
  const absent = current.filter((l) => l.subscriptionId !== null && l.status === "active" && !produced.has(l.lineId));
  const storedGoodwill = current.filter((l) => l.subscriptionId === null);
  // A subscriber with a rejected row keeps the goodwill that stands.
  for (const line of storedGoodwill) {
    if (
      line.status === "active" &&
      !dueIds.has(line.lineId) &&
      keptGoodwill.has(lineGroupOf(incident.incidentId, line))
    ) {
      dueGoodwill.push(line);
    }
  }
  const voids = reconcile(absent, [], runId).changes;
  const goodwill = reconcile(storedGoodwill, dueGoodwill, runId);
  const changes = [...voids, ...goodwill.changes];
  if (!context.dryRun) await store.writeChanges(changes, { exclusive: context.fresh });

  const counts = { ...ZERO_COUNTS, unchanged: goodwill.unchanged };
  for (const c of changes) counts[c.kind]++;
  return { counts, standing: [...keptLines, ...dueGoodwill], changes };
}
