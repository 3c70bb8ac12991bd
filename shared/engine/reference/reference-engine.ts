import { CompactStringSet } from "../../collections/compact-string-set";
import type { CsvRecord } from "../../csv/csv-record-reader";
import type { Incident } from "../../input/incident";
import { checkShape, type RejectedRow, type SubscriptionHeader } from "../../input/subscription-row";
import { type ServiceTotal, ServiceTotals } from "../../money/service-totals";
import { creditsSubscriber, goodwillLine } from "../../rules/goodwill";
import { judgeAndCompute, type RowCounts, SubscriptionCalculator } from "../compute-subscription";
import type { RefundLine } from "../refund-line";
import { emptySnapshot, snapshotHeader } from "../snapshot-header";

// The reference engine: record by record, every row judged by `judgeAndCompute` (../compute-subscription.ts, over
// the contract's per-field checks in shared/input/subscription-row.ts), every line an object. It is what the fast
// engine (../fast/fast-engine.ts) is tested against, byte for byte, and what the fast one hands every row it does not
// take on its byte path: its `RefundRun` is the one judgement of a row for both (see "One judgement of a row" in
// fast-engine.ts). The pipeline's compute step and `hiwari compute --engine reference` run it.

/** A subscriptions snapshot that can be read more than once, in batches of records (the header first). */
export interface RecordSource {
  /** Where the records come from, for messages (a file path). */
  readonly name: string;
  records(): AsyncIterable<CsvRecord[]>;
}

/** Where a run's results go. `drain` is awaited after each batch, so a slow writer holds the reader back. */
export interface RefundSink {
  line(line: RefundLine): void;
  reject(reject: RejectedRow): void;
  drain?(): Promise<void>;
}

export type { ServiceTotal };

/**
 * What a run of the engine did with every row (rows = computed + skipped + rejected), and the lines it wrote. What a
 * run records on the store, with its line changes, is `RecordedCounts` (shared/store/refund-store.ts).
 */
export interface RunCounts extends RowCounts {
  lines: number;
  goodwillLines: number;
  totals: ServiceTotal[];
}

/** Counts before the first row: nothing judged, no line, no total. */
export const zeroRunCounts = (): RunCounts => ({
  rows: 0,
  computed: 0,
  skipped: 0,
  rejected: 0,
  lines: 0,
  goodwillLines: 0,
  totals: [],
});

/** Collects the subscription ids that occur more than once among the records of the right width. */
export class DuplicateIds {
  private readonly seen = new CompactStringSet(1 << 16);
  readonly duplicates = new CompactStringSet();

  /** Notes a record after the header; one of the wrong shape has no id to count. */
  add(record: CsvRecord, header: SubscriptionHeader): void {
    if (!checkShape(record, header)) this.addId(record.fields[header.index.subscription_id] as string);
  }

  /** Notes the id of a record already found of the right shape. */
  addId(id: string): void {
    if (!this.seen.add(id)) this.duplicates.add(id);
  }
}

async function withHeader(
  source: RecordSource,
  incident: Incident,
  each: (record: CsvRecord, header: SubscriptionHeader) => void,
  afterBatch?: () => Promise<void>,
): Promise<void> {
  let header: SubscriptionHeader | undefined;
  for await (const batch of source.records()) {
    for (const record of batch) {
      if (header) {
        each(record, header);
        continue;
      }
      header = snapshotHeader(source.name, record, incident);
    }
    await afterBatch?.();
  }
  if (!header) throw emptySnapshot(source.name);
}

/**
 * First pass: the subscription ids that occur more than once among the records of the right width (and the
 * header checked against the incident's `where`s, before anything is written).
 */
export async function findDuplicateIds(source: RecordSource, incident: Incident): Promise<CompactStringSet> {
  const ids = new DuplicateIds();
  await withHeader(source, incident, (record, header) => ids.add(record, header));
  return ids.duplicates;
}

/** Where one run's lines and rejects go, record by record. */
export interface RunOutput {
  line(line: RefundLine): void;
  reject(reject: RejectedRow): void;
}

/**
 * One run's bookkeeping over the snapshot's records: each record judged, computed, skipped or rejected; lines,
 * totals, goodwill once per subscriber. Both engines judge records through it, the reference one every record and
 * the fast one every record its byte path does not take (see ../fast/fast-engine.ts), so a row gets the same
 * lines or the same reject whichever engine reads it.
 */
export class RefundRun {
  readonly counts: RunCounts = zeroRunCounts();
  readonly totals = new ServiceTotals();
  /** Subscribers already credited with the goodwill line. */
  readonly refunded = new CompactStringSet(1 << 16);
  readonly calculator: SubscriptionCalculator;

  constructor(
    readonly incident: Incident,
    private readonly out: RunOutput,
    private readonly isDuplicate: (id: string) => boolean,
  ) {
    this.calculator = new SubscriptionCalculator(incident);
  }

  /** Judges one record after the header and emits what it owes. */
  record(record: CsvRecord, header: SubscriptionHeader): void {
    const judged = judgeAndCompute(record, header, this.calculator, this.isDuplicate, this.counts);
    if (judged.kind === "rejected") {
      this.out.reject(judged.reject);
      return;
    }
    const { row } = judged;
    let suspended = false;
    if (judged.kind === "computed") {
      for (const line of judged.result.lines) this.emit(line);
      suspended = judged.result.suspended;
    }
    if (creditsSubscriber(this.incident, row, suspended) && this.refunded.add(row.subscriberId)) {
      const goodwill = goodwillLine(this.incident, row.subscriberId);
      if (goodwill) {
        this.counts.goodwillLines++;
        this.emit(goodwill);
      }
    }
  }

  /** The counts with the totals, once every record is in. */
  finish(): RunCounts {
    this.counts.totals = this.totals.list();
    return this.counts;
  }

  private emit(line: RefundLine): void {
    this.totals.add(line.serviceCode, line.currency, 1, line.amount);
    this.counts.lines++;
    this.out.line(line);
  }
}

/**
 * Computes an incident's refund lines over a subscriptions snapshot, streaming: two passes over the source (the
 * first finds duplicate ids), constant memory but for the compact sets of ids. Every bad row goes to
 * `sink.reject` once and never stops the others; throws UnusableSnapshotError before writing anything when the
 * header is unusable. The reference engine, record by record: `computeRefundsFast` (../fast/fast-engine.ts) is the
 * fast one over bytes, with the same output.
 */
export async function computeRefundsReference(
  incident: Incident,
  source: RecordSource,
  sink: RefundSink,
  onProgress?: (rows: number) => void,
): Promise<RunCounts> {
  const duplicates = await findDuplicateIds(source, incident);
  const run = new RefundRun(incident, sink, (id) => duplicates.size > 0 && duplicates.has(id));
  await withHeader(
    source,
    incident,
    (record, header) => run.record(record, header),
    async () => {
      onProgress?.(run.counts.rows);
      await sink.drain?.();
    },
  );
  return run.finish();
}
