import type { CsvRecord } from "../csv/csv-record-reader";
import { asciiText, plainRecord, type RowVisitor } from "../csv/snapshot-scanner";
import { judgeAndCompute, periodLine, SubscriptionCalculator } from "../engine/compute-subscription";
import { isDuplicateId, PlainRows } from "../engine/fast/plain-rows";
import type { RefundLine } from "../engine/refund-line";
import type { RejectedRow, SubscriptionHeader } from "../input/subscription-row";
import { ServiceTotals } from "../money/service-totals";
import { lineGroupOf, lineIdInGroup, lineIdOf } from "../reconcile/line-identity";
import { countStored, type KeyedLine, type LineChange, reconcile } from "../reconcile/reconcile";
import { creditsSubscriber } from "../rules/goodwill";
import {
  type BatchSummary,
  type RefundStore,
  type ShardBook,
  shardOf,
  type TotalLine,
  ZERO_COUNTS,
} from "../store/refund-store";
import type { RunContext } from "./run-context";

export interface BatchResult {
  summary: BatchSummary;
  /** The batch's rejected rows, in line order (saved in the run's files before the batch is recorded). */
  rejects: RejectedRow[];
  /** The changes written (or, in a dry run, that would have been). */
  changes: LineChange[];
}

/** Lines and amounts per service and currency. */
function totalsOf(lines: readonly KeyedLine[]): TotalLine[] {
  const totals = new ServiceTotals();
  for (const l of lines) totals.add(l.serviceCode, l.currency, 1, l.amount);
  return totals.listAsText();
}

function bookFor(books: Map<number, ShardBook>, group: string): ShardBook {
  const shard = shardOf(group);
  let book = books.get(shard);
  if (!book) {
    book = { produced: [], kept: [], eligible: [], protected: [] };
    books.set(shard, book);
  }
  return book;
}

/** The rows of a batch, handed to a visitor in line order: plain lines as bytes, other records as read. */
export type BatchRows = (visitor: RowVisitor) => void;

/** The rows of records already read: every one takes the reference judgement (tests, and the reference path). */
export const recordRows =
  (records: readonly CsvRecord[]): BatchRows =>
  (visitor) => {
    for (const record of records) visitor.record(record);
  };

/**
 * One batch of snapshot rows: validate, compute, reconcile with the stored lines of the same ids, write the
 * changes (conditionally on version), save the rejected rows (`saveRejects`, before the record: a recorded batch
 * always has them) and record what the batch produced for finalize. Idempotent: a retried
 * batch reads its own earlier writes back as stored lines and writes nothing again (on a first run, which reads
 * nothing, it rewrites the same version-1 items: the publisher emits nothing for a write that changed nothing).
 * Goodwill is decided in finalize, since a subscriber's rows may fall in different batches.
 *
 * The rows come as the fast engine reads them (`sliceRows`): a plain line is judged by the byte path
 * (`PlainRows`: its class's lines computed once per fee and currency, its fields never made strings but its ids);
 * any other record, and any plain line the byte path does not take, by the reference judgement
 * (`judgeAndCompute`). Both make the same lines, rejects and counts (test/shared/pipeline/compute-batch.test.ts
 * holds them together on random slices).
 */
export async function computeBatch(
  context: RunContext,
  batchNo: number,
  header: SubscriptionHeader,
  rows: BatchRows,
  store: RefundStore,
  saveRejects: (rejects: readonly RejectedRow[]) => Promise<void> = async () => {},
): Promise<BatchResult> {
  const { incident, runId } = context;
  const calculator = new SubscriptionCalculator(incident);
  const counts = { ...ZERO_COUNTS };
  const rejects: RejectedRow[] = [];
  const books = new Map<number, ShardBook>();
  const computed: KeyedLine[] = [];
  // Subscribers this batch credits, each noted once in its shard's book (under goodwill scope "active", every one).
  const credited = new Set<string>();
  const goodwillGroup = (subscriberId: string) =>
    lineGroupOf(incident.incidentId, { subscriptionId: null, subscriberId });
  const credit = (subscriberId: string) => {
    const group = goodwillGroup(subscriberId);
    if (!credited.has(group)) bookFor(books, group).eligible.push(group);
    credited.add(group);
  };

  const reject = (r: RejectedRow, record: CsvRecord) => {
    rejects.push(r);
    // A rejected row keeps its stored lines: protect its subscription and its subscriber's goodwill.
    if (r.subscriptionId !== null) {
      const group = lineGroupOf(incident.incidentId, { subscriptionId: r.subscriptionId, subscriberId: "" });
      bookFor(books, group).kept.push(group);
    }
    const subscriberId = record.fields[header.index.subscriber_id];
    if (subscriberId) bookFor(books, goodwillGroup(subscriberId)).protected.push(goodwillGroup(subscriberId));
  };

  const isDuplicate = (id: string) => isDuplicateId(context.duplicates, id);
  const record = (record: CsvRecord) => {
    const judged = judgeAndCompute(record, header, calculator, isDuplicate, counts);
    if (judged.kind === "rejected") {
      reject(judged.reject, record);
      return;
    }
    const { row } = judged;
    let suspended = false;
    if (judged.kind === "computed") {
      for (const line of judged.result.lines) {
        const lineId = lineIdOf(incident.incidentId, line);
        computed.push({ ...line, lineId });
        bookFor(books, lineGroupOf(incident.incidentId, line)).produced.push(lineId);
      }
      suspended = judged.result.suspended;
    }
    if (creditsSubscriber(incident, row, suspended)) credit(row.subscriberId);
  };

  // A (class, fee, currency)'s lines, their ids left empty: each row fills in its own.
  const noIds = { subscriptionId: "", subscriberId: "" };
  const plainRows = new PlainRows<RefundLine[]>(incident, calculator, context.duplicates, (c, currency, amounts) =>
    c.periods.map((p, k) => periodLine(noIds, c.service, p, amounts[k] as bigint, currency)),
  );
  plainRows.begin(header);
  const plain = (bytes: Uint8Array, cuts: Int32Array, line: number) => {
    const r = plainRows;
    if (!r.accept(bytes, cuts)) {
      record(plainRecord(bytes, cuts, header.width, line));
      return;
    }
    r.countTaken(counts);
    const subscriberId = asciiText(bytes, r.subStart, r.subEnd);
    const rowClass = r.rowClass;
    const values = rowClass === undefined ? [] : plainRows.entryOf(rowClass, r.fee, r.currency).out;
    if (values.length > 0) {
      // A class may owe no line (no whole 24 hours suspended): its row is suspended all the same (for goodwill).
      const subscriptionId = asciiText(bytes, r.idStart, r.idEnd);
      const group = lineGroupOf(incident.incidentId, { subscriptionId, subscriberId });
      const { produced } = bookFor(books, group);
      for (const v of values) {
        const lineId = lineIdInGroup(group, v.periodStart as string);
        computed.push({
          subscriptionId,
          subscriberId,
          serviceCode: v.serviceCode,
          periodStart: v.periodStart,
          periodEnd: v.periodEnd,
          unit: v.unit,
          units: v.units,
          basis: v.basis,
          amount: v.amount,
          currency: v.currency,
          lineId,
        });
        produced.push(lineId);
      }
    }
    const row = { activeFrom: r.activeFrom, activeTo: r.activeTo, cells: r.cells };
    if (creditsSubscriber(incident, row, rowClass !== undefined)) credit(subscriberId);
  };
  rows({ plain, record });

  // Lines this batch no longer produces are voided by finalize (it knows every line the run produced).
  const stored = context.fresh ? [] : await store.linesLike(incident.incidentId, computed);
  const { changes, unchanged, already } = reconcile(stored, computed, runId);
  // The books count the shards' lines only for a run that knows how many were stored (its steps of one build).
  if (context.stored) {
    countStored(stored, changes, runId, (line, as) => {
      const book = bookFor(books, lineGroupOf(incident.incidentId, line));
      book[as] = (book[as] ?? 0) + 1;
    });
    // Every book says both counts, 0 where none: finalize takes a shard whose book lacks one as unknown.
    for (const book of books.values()) {
      book.found ??= 0;
      book.created ??= 0;
    }
  }
  counts.unchanged = unchanged;
  for (const c of changes) counts[c.kind]++;
  for (const kind of already) counts[kind]++; // this run's own, stored before it was resumed
  if (!context.dryRun) await store.writeChanges(changes, { exclusive: context.fresh });
  if (rejects.length > 0) await saveRejects(rejects);
  const summary: BatchSummary = { batchNo, counts, totals: totalsOf(computed) };
  await store.putBatch(incident.incidentId, runId, summary, books);
  return { summary, rejects, changes };
}
