import { CompactStringSet } from "../collections/compact-string-set";
import type { ServiceTotals } from "../money/service-totals";
import { lineGroupOf, lineIdOf } from "../reconcile/line-identity";
import {
  type ChangeKind,
  countStored,
  type KeyedLine,
  type LineChange,
  reconcile,
  type StoredLine,
} from "../reconcile/reconcile";
import { goodwillLine } from "../rules/goodwill";
import type { RecordedCounts, RefundStore } from "../store/refund-store";
import type { RunContext } from "./run-context";

const GOODWILL_MARK = "#G#";

/** The subscriber id inside a goodwill line group (`incident#G#<encoded subscriber>`). */
function subscriberOf(group: string): string {
  return decodeURIComponent(group.slice(group.indexOf(GOODWILL_MARK) + GOODWILL_MARK.length));
}

/**
 * Goodwill lines settled at once: read (on a rerun), reconciled and written as one page. What a shard holds
 * besides its sets of ids is one such page, whatever the number of credited subscribers (at KDDI's size with goodwill
 * scope "active", about 560,000 a shard).
 */
export const GOODWILL_PAGE = 1_000;

/**
 * What finalize found in a shard, filled as its pages are settled: its changes' counts, what stands there besides
 * the lines the batches produced (which they totalled themselves): kept lines and goodwill, and how many lines the
 * shard holds after the run, when the run knew how many it held before (`RunContext.stored`).
 */
export interface ShardTally {
  counts: RecordedCounts;
  totals: ServiceTotals;
  stored?: number;
}

/** The shard's books, as sets: each id once, in a few dozen bytes (a Set of strings would take ~60 more each). */
interface ShardSets {
  /** Ids of the lines the run produced (a rerun's: a first run voids nothing). */
  produced: CompactStringSet;
  /** Line groups of subscriptions with a rejected row (a rerun's). */
  kept: CompactStringSet;
  /** Goodwill groups of the subscribers credited now. */
  eligible: CompactStringSet;
  /** Goodwill groups of subscribers with a rejected row (a rerun's). */
  protected: CompactStringSet;
  /**
   * The lines the batches read as stored (not this run's own) and those they created, summed over the books;
   * undefined if a book does not say (recorded before they were counted).
   */
  lines?: { found: number; created: number };
}

async function shardSets(context: RunContext, shard: number, store: RefundStore): Promise<ShardSets> {
  const sets: ShardSets = {
    produced: new CompactStringSet(),
    kept: new CompactStringSet(),
    eligible: new CompactStringSet(),
    protected: new CompactStringSet(),
    lines: { found: 0, created: 0 },
  };
  for await (const book of store.shardBooks(context.runId, shard)) {
    if (sets.lines && book.found !== undefined && book.created !== undefined) {
      sets.lines.found += book.found;
      sets.lines.created += book.created;
    } else delete sets.lines;
    for (const group of book.eligible) sets.eligible.add(group);
    // On an incident's first run nothing stood before it: nothing to void, keep or protect.
    if (context.fresh) continue;
    for (const id of book.produced) sets.produced.add(id);
    for (const group of book.kept) sets.kept.add(group);
    for (const group of book.protected) sets.protected.add(group);
  }
  return sets;
}

/**
 * One shard of the incident's lines after all batches: settle goodwill (due to the subscribers credited now, kept
 * for subscribers with a rejected row, voided otherwise), void the standing lines this run no longer produced
 * (subscriptions absent from the snapshot, periods no longer suspended, a narrower scope) but for subscriptions
 * with a rejected row, and tally the counts and what stands in the shard besides the lines the batches produced.
 * Yields each page of changes once it is written (in a dry run: as it would be).
 *
 * Memory: the shard's books as compact sets of ids (never a whole snapshot's, nor a list per book entry), and one
 * page at a time of the shard's goodwill lines due or of its stored lines. Two passes, each id in one of them:
 * 1. the goodwill due, `pageSize` subscribers at a time (GOODWILL_PAGE): read consistently (a rerun), reconciled,
 *    written;
 * 2. (a rerun) the shard's stored lines, page by page from the index, which is eventually consistent and so only
 *    names candidates: standing lines not produced and goodwill lines of subscribers not credited now are read
 *    again from the table, consistently, before anything is voided. Skipped when the run knows how many lines the
 *    shard held at its start (`RunContext.stored`) and the batches and the first pass read exactly as many: then
 *    every line there is one this run produced or credits, and none is left to void or keep.
 * On an incident's first run nothing stood before it: the second pass is skipped and the first reads nothing.
 */
export async function* finalizeShard(
  context: RunContext,
  shard: number,
  store: RefundStore,
  tally: ShardTally,
  pageSize = GOODWILL_PAGE,
): AsyncGenerator<LineChange[]> {
  const { incident, runId } = context;
  const sets = await shardSets(context, shard, store);
  const groupOf = (line: KeyedLine) => lineGroupOf(incident.incidentId, line);
  const settle = async (changes: LineChange[], unchanged: number, already: readonly ChangeKind[]) => {
    if (!context.dryRun && changes.length > 0) await store.writeChanges(changes, { exclusive: context.fresh });
    tally.counts.unchanged += unchanged;
    for (const c of changes) tally.counts[c.kind]++;
    for (const kind of already) tally.counts[kind]++; // this run's own, stored before it was resumed
  };
  /** A line this run voided before it was interrupted (a resumed run counts it again, as a void). */
  const voidedByThisRun = (line: StoredLine) =>
    line.status === "voided" && line.runId === runId && line.change === "voided";
  const stands = (line: KeyedLine) => tally.totals.add(line.serviceCode, line.currency, 1, line.amount);
  const { lines } = sets;

  let due: KeyedLine[] = [];
  const settleDue = async () => {
    const stored = context.fresh ? [] : await store.linesLike(incident.incidentId, due);
    const goodwill = reconcile(stored, due, runId);
    if (lines) countStored(stored, goodwill.changes, runId, (_, as) => lines[as]++);
    await settle(goodwill.changes, goodwill.unchanged, goodwill.already);
    due.forEach(stands);
    due = [];
    return goodwill.changes;
  };
  for (const group of sets.eligible) {
    const line = goodwillLine(incident, subscriberOf(group));
    if (!line) break; // no goodwill: no subscriber is eligible
    due.push({ ...line, lineId: lineIdOf(incident.incidentId, line) });
    if (due.length === pageSize) yield await settleDue();
  }
  if (due.length > 0) yield await settleDue();

  // What the shard held at the start, if known: the batches and the goodwill due read at most that many of its lines.
  const before = lines ? context.stored?.[shard] : undefined;
  const known = before !== undefined && lines !== undefined && lines.found <= before;
  if (!context.fresh && !(known && lines.found === before)) {
    let listed = 0;
    for await (const page of store.linesOfShard(incident.incidentId, shard)) {
      listed += page.length;
      const candidates: StoredLine[] = [];
      for (const line of page) {
        if (line.subscriptionId === null) {
          if (!sets.eligible.has(groupOf(line))) candidates.push(line);
        } else if (line.status === "active" && !sets.produced.has(line.lineId)) {
          if (sets.kept.has(groupOf(line))) stands(line);
          else candidates.push(line);
        } else if (voidedByThisRun(line) && !sets.produced.has(line.lineId)) candidates.push(line);
      }
      if (candidates.length === 0) continue;
      const current = await store.linesLike(incident.incidentId, candidates);
      const absent = current.filter(
        (l) =>
          l.subscriptionId !== null && (l.status === "active" || voidedByThisRun(l)) && !sets.produced.has(l.lineId),
      );
      // Goodwill of a subscriber not credited now: voided, but kept for a subscriber with a rejected row.
      const storedGoodwill = current.filter((l) => l.subscriptionId === null && !sets.eligible.has(groupOf(l)));
      const keptGoodwill = storedGoodwill.filter((l) => l.status === "active" && sets.protected.has(groupOf(l)));
      const goodwill = reconcile(storedGoodwill, keptGoodwill, runId);
      const voids = reconcile(absent, [], runId);
      const changes = [...voids.changes, ...goodwill.changes];
      await settle(changes, goodwill.unchanged, [...voids.already, ...goodwill.already]);
      keptGoodwill.forEach(stands);
      yield changes;
    }
    // The index lists no line that is not stored: more than the count allows means the count was wrong. This run
    // did not rely on it (it read the index), and it records none, so no later run relies on it either.
    if (known && listed > before + lines.created) return;
  }
  // Voids and kept lines add no line: the shard holds what it held and what this run created.
  if (known) tally.stored = before + lines.created;
}
