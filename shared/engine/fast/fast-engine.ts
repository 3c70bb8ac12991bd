import { CompactStringSet } from "../../collections/compact-string-set";
import { Fingerprint, FingerprintList, type FingerprintTable } from "../../collections/fingerprint-table";
import type { CsvRecord } from "../../csv/csv-record-reader";
import { asciiText, plainRecord, SnapshotScanner, scanIdsLoosely, scanSnapshot } from "../../csv/snapshot-scanner";
import type { Incident } from "../../input/incident";
import { checkShape, type RejectedRow, type SubscriptionHeader } from "../../input/subscription-row";
import { type ServiceTotal, ServiceTotals } from "../../money/service-totals";
import { toJsonLine } from "../../output/line-format";
import { creditsSubscriber, goodwillLine } from "../../rules/goodwill";
import type { PeriodUnits } from "../../rules/period-units";
import { periodLine } from "../compute-subscription";
import { DuplicateIds, RefundRun, type RunCounts, zeroRunCounts } from "../reference/reference-engine";
import type { RefundLine } from "../refund-line";
import { emptySnapshot, snapshotHeader } from "../snapshot-header";
import { type Duplicates, duplicatesOf, isDuplicateId, PlainRows, type RowClass } from "./plain-rows";

// The fast engine: the reference engine's output (../reference/reference-engine.ts), byte for byte, from the
// snapshot's bytes (docs/performance.md, "How the fast engine works").
//
// One judgement of a row. The contract's row checks are `validateRow` (shared/input/subscription-row.ts), which
// `judgeAndCompute` (../compute-subscription.ts) and the reference engine's `RefundRun` apply. The byte checks in
// `PlainRows.accept` (./plain-rows.ts, which this engine and the pipeline's compute step share) are not a second
// judgement but an acceptance filter: they take a row only when it passes
// every check of `validateRow`, through the same definitions where one exists (`MAX_ID_CHARS`, `isCurrencyCode`,
// `resolveTimeZone` behind the zone memo, `timestampAt` held to `parseTimestamp` by test/shared/time/timestamp.test.ts)
// or a digit loop written to the regex's terms (`feeAt`, narrower: at most 15 digits; `billingDayAt`), on ASCII-only
// lines; any fault, or any doubt, hands the row to
// `RefundRun`, so every reject is the reference judgement's own. That the filter never accepts a row the judgement
// rejects is held by the differential properties, which require the same lines, rejects and counts from both
// engines on random snapshots whose fields straddle each check's boundary ("writes exactly the reference engine's
// lines, rejects and counts on random snapshots…" in test/shared/engine/fast/fast-engine.test.ts), and on rows
// broken as real files break (test/shared/engine/bad-input.properties.test.ts); every engine test runs both too
// (`run` in test/helpers/factories.ts), and the pipeline's batches are held to it the same way
// (test/shared/pipeline/compute-batch.test.ts).

/** A subscriptions snapshot as bytes, read afresh on every pass (a file). */
export interface ByteSource {
  /** Where the bytes come from, for messages (a file path). */
  readonly name: string;
  /** The file's chunks in order; a chunk may be overwritten once the next one is asked for. */
  chunks(): AsyncIterable<Uint8Array>;
  /** The size in bytes, when known: it sizes the first pass's table of ids from the first chunk's rows. */
  readonly size?: number;
}

/** Where the fast engine's results go: JSON lines as filled byte buffers, rejects one by one. */
export interface LineBytesSink {
  /** A buffer of whole lines, reused by the engine once this returns: copy it to keep it. */
  write(bytes: Uint8Array): void;
  reject(reject: RejectedRow): void;
  /** Awaited after each chunk of input: a slow writer holds the reader back. */
  drain?(): Promise<void>;
  /**
   * Forgets every line written so far (a file truncated to what it held before the first): with it, the engine
   * computes the lines in the same pass that looks for duplicate ids, and starts the lines again only if it finds
   * one (see `inOnePass`). Without it (a pipe), the ids are read in a pass of their own first.
   */
  rewind?(): void;
}

const BUFFER_BYTES = 1 << 20;
const LF = 10;
const QUOTE = 34;
/** Written buffers a range engine keeps to fill again (about what two ranges of lines take). */
const POOL_LIMIT = 32;
/**
 * Where a range's goodwill lines would go (see `computeInRanges`): the subscribers a range would credit, each at the
 * offset in its buffer where its line belongs; the thread that joins the ranges decides, in order, which are owed.
 */
export interface GoodwillMarks {
  /** Offset in the buffer of each candidate. */
  at: Int32Array;
  /** 1 when the candidate came from the reference engine's path (its line is rendered by the format), else 0. */
  text: Uint8Array;
  /** The subscribers' UTF-8 bytes, one after another, the k-th ending at `ends[k]`. */
  ids: Uint8Array;
  ends: Int32Array;
}

/** A buffer of whole lines from one range, with the goodwill candidates among them (none without goodwill). */
export interface RangeOutput {
  bytes: Uint8Array;
  marks?: GoodwillMarks;
  /** Called once the bytes are written: their buffer may be filled again (see `RangeEngine.recycle`). */
  done?: () => void;
}

/** Goodwill candidates gathered while a buffer fills. */
class MarkList {
  at: number[] = [];
  text: number[] = [];
  ends: number[] = [];
  ids = new Uint8Array(4096);
  used = 0;
  private readonly encoder = new TextEncoder();

  add(at: number, bytes: Uint8Array, start: number, end: number, text: number): void {
    this.reserve(end - start);
    this.ids.set(bytes.subarray(start, end), this.used);
    this.used += end - start;
    this.at.push(at);
    this.text.push(text);
    this.ends.push(this.used);
  }

  addText(at: number, id: string): void {
    this.reserve(id.length * 3);
    this.used += this.encoder.encodeInto(id, this.ids.subarray(this.used)).written;
    this.at.push(at);
    this.text.push(1);
    this.ends.push(this.used);
  }

  take(): GoodwillMarks {
    const marks = {
      at: Int32Array.from(this.at),
      text: Uint8Array.from(this.text),
      ids: this.ids.slice(0, this.used),
      ends: Int32Array.from(this.ends),
    };
    this.at = [];
    this.text = [];
    this.ends = [];
    this.used = 0;
    return marks;
  }

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.ids.length) return;
    const bigger = new Uint8Array(Math.max(this.ids.length * 2, this.used + bytes));
    bigger.set(this.ids.subarray(0, this.used));
    this.ids = bigger;
  }
}

/**
 * JSON lines gathered in 1 MiB buffers, handed on whole: reused (the receiver copies or writes it at once), or, for
 * a range computed on a worker thread, a fresh one each time (the full one is transferred to the joining thread).
 */
class LineBuffer {
  private buffer: Uint8Array = new Uint8Array(BUFFER_BYTES);
  private used = 0;
  private readonly encoder = new TextEncoder();
  /** Goodwill candidates, when another thread decides goodwill (see `computeInRanges`). */
  readonly marks: MarkList | undefined;

  /**
   * `fresh`, when given, supplies the buffer after each one handed on (which the receiver then owns); else the one
   * buffer is reused.
   */
  constructor(
    private readonly handOn: (bytes: Uint8Array, marks?: GoodwillMarks) => void,
    private readonly fresh?: () => Uint8Array,
    marks = false,
  ) {
    this.marks = marks ? new MarkList() : undefined;
  }

  /** Makes room for `bytes` more. */
  room(bytes: number): void {
    if (this.used + bytes > this.buffer.length) {
      this.flush();
      if (bytes > this.buffer.length) this.buffer = new Uint8Array(bytes); // one line longer than the buffer
    }
  }

  /** Appends `bytes[start … end)` (a field: short, copied byte by byte); call `room` first. */
  copy(bytes: Uint8Array, start: number, end: number): void {
    const buffer = this.buffer;
    let at = this.used;
    for (let i = start; i < end; i++) buffer[at++] = bytes[i] as number;
    this.used = at;
  }

  /** Appends all of `bytes`; call `room` first. */
  put(bytes: Uint8Array): void {
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  text(text: string): void {
    this.room(text.length * 3);
    this.used += this.encoder.encodeInto(text, this.buffer.subarray(this.used)).written;
  }

  /** Notes a goodwill candidate here: subscriber `bytes[start … end)`, plain ASCII (its line is a template's). */
  mark(bytes: Uint8Array, start: number, end: number): void {
    (this.marks as MarkList).add(this.used, bytes, start, end, 0);
  }

  /** Notes a goodwill candidate here from the reference engine's path (its line is rendered by the format). */
  markText(id: string): void {
    (this.marks as MarkList).addText(this.used, id);
  }

  flush(): void {
    const marks = this.marks && this.marks.at.length > 0 ? this.marks.take() : undefined;
    if (this.used === 0 && marks === undefined) return;
    this.handOn(this.buffer.subarray(0, this.used), marks);
    if (this.fresh) this.buffer = this.fresh();
    this.used = 0;
  }
}

const bytesOf = (text: string) => new TextEncoder().encode(text);

/** How lines are written: JSON lines or CSV rows, each from a RefundLine (see line-format.ts). */
export type LineFormat = (line: RefundLine) => string;

/**
 * A line split where its two ids go: `head` id `middle` subscriber `tail`. Made by the format itself from
 * placeholder ids, so the fast lines are the reference engine's byte for byte: a plain-ASCII id without quotes,
 * backslashes or commas is written as itself by both formats (between the quotes JSON puts around it).
 */
interface LineTemplate {
  head: Uint8Array;
  middle: Uint8Array;
  tail: Uint8Array;
}

/** Two placeholders no service code of the incident contains. */
function marksFor(incident: Incident): { id: string; subscriber: string } {
  const codes = [...incident.windows.keys()];
  for (let n = 0; ; n++) {
    const id = `\u27e8id${n}\u27e9`;
    const subscriber = `\u27e8subscriber${n}\u27e9`;
    if (!codes.some((c) => c.includes(id) || c.includes(subscriber))) return { id, subscriber };
  }
}

function templateOf(format: LineFormat, line: RefundLine, marks: { id: string; subscriber: string }): LineTemplate {
  const text = format(line);
  const j = text.indexOf(marks.subscriber);
  const i = line.subscriptionId === null ? -1 : text.indexOf(marks.id);
  return {
    head: bytesOf(i === -1 ? "" : text.slice(0, i)),
    middle: bytesOf(i === -1 ? text.slice(0, j) : text.slice(i + marks.id.length, j)),
    tail: bytesOf(text.slice(j + marks.subscriber.length)),
  };
}

/**
 * The fast engine: the same lines, rejects and counts as `computeRefundsReference`, from the snapshot's bytes. A plain
 * line (see SnapshotScanner) whose fields all pass is computed without a string or a date object: its fields are
 * checked in place, its units come from its class (service, zone, billing day, suspended pieces: a handful for a
 * million rows), and its JSON lines are the class's bytes around its two ids. Anything else — a quoted or
 * non-ASCII record, a row with any fault, a duplicate id, a fee of more than 15 digits — goes through
 * `RefundRun`, the reference engine's own judgement. Contract v2's scope takes the byte path too: a row's windows are
 * the set its cells match (one class per set), and goodwill, on either path, is what `creditsSubscriber` decides.
 * Duplicates are found with 64-bit fingerprints (8 bytes an id, not a string), confirmed with the ids themselves
 * in a pass over the suspects only: in the pass that computes the lines when the sink can be rewound (`inOnePass`),
 * else in a first pass of their own.
 *
 * With `options.parallel`, the second pass is split into byte ranges computed by its runners (worker threads in
 * `hiwari compute`) and joined here in order, byte for byte the single-thread output (see `computeInRanges`).
 */
export async function computeRefundsFast(
  incident: Incident,
  source: ByteSource,
  sink: LineBytesSink,
  options: { format?: LineFormat; onProgress?: (rows: number) => void; parallel?: Parallel } = {},
): Promise<RunCounts> {
  const format = options.format ?? toJsonLine;
  const parallel = options.parallel && options.parallel.runners.length > 0 ? options.parallel : undefined;
  let known: Duplicates | undefined;
  if (!parallel && sink.rewind) {
    const pass = await inOnePass(incident, source, sink, format, options);
    if ("counts" in pass) return pass.counts;
    sink.rewind();
    known = pass.duplicates;
  }
  const first = await headerOf(source);
  const split = parallel && source.size !== undefined ? await idsInParallel(source, first, parallel) : undefined;
  const duplicates =
    known ?? (split ? await confirmDuplicates(source, split.suspects) : await findDuplicates(source, first.header));
  const ranges = split?.ranges ?? [];
  if (parallel && ranges.length > 1) {
    return computeInRanges(incident, source.name, sink, format, duplicates, first.record, ranges, parallel, options);
  }
  const engine = new FastEngine(
    incident,
    new LineBuffer((bytes) => sink.write(bytes)),
    (r) => sink.reject(r),
    duplicates,
    format,
  );
  const found = await scanSnapshot(
    source.chunks(),
    {
      header: (record) => engine.begin(snapshotHeader(source.name, record, incident)),
      plain: (bytes, cuts, line) => engine.plain(bytes, cuts, line),
      record: (record) => engine.record(record),
    },
    async () => {
      engine.flush();
      options.onProgress?.(engine.run.counts.rows);
      await sink.drain?.();
    },
  );
  if (!found) throw emptySnapshot(source.name);
  return engine.finish();
}

/**
 * Rejects a pass that may yet be rewound holds back: past this many, or past HELD_REJECT_BYTES of their ids and
 * reasons (an id may be long), it stops at the end of the chunk it is in, and the run reads the ids first.
 */
export const HELD_REJECTS_LIMIT = 10_000;
export const HELD_REJECT_BYTES = 16 << 20;

/**
 * The lines and the duplicate check in one pass, for a sink that can forget its lines: every record's id is
 * fingerprinted as `visitIds` reads it (a plain line's id column; `recordIdOf`) while the lines are computed as if no
 * id repeated, and the rejects are held back. No fingerprint found twice (the common case), or none of the suspects'
 * ids confirmed twice: the lines are the two-pass run's, byte for byte, the held rejects are handed on, and the run is
 * done in one pass over the file (two with suspects) instead of two (three). An id found twice: its rows are rejected
 * and their lines must not be written, so the caller rewinds the sink and computes the lines again with the duplicates
 * now known. The caller does the same, with both passes, when the pass stops early: more rejects than it holds (a
 * broken file), or a write refused (the lines of rows still to be found duplicates may have taken the space: the rewind
 * frees it, and the two passes meet the sink's limit, if at all, with only the lines owed).
 */
async function inOnePass(
  incident: Incident,
  source: ByteSource,
  sink: LineBytesSink,
  format: LineFormat,
  options: { onProgress?: (rows: number) => void },
): Promise<{ counts: RunCounts } | { duplicates?: Duplicates }> {
  const held: RejectedRow[] = [];
  let heldBytes = 0;
  let stopped = false;
  let writeFailed = false;
  const engine = new FastEngine(
    incident,
    new LineBuffer((bytes) => {
      try {
        sink.write(bytes);
      } catch (e) {
        writeFailed = true;
        throw e;
      }
    }),
    (r) => {
      held.push(r);
      heldBytes += (r.subscriptionId?.length ?? 0) + r.reason.length + 64;
    },
    duplicatesOf([]),
    format,
  );
  // The file's chunks until the pass is told to stop (the scan then ends as at the file's end, its result unused).
  async function* chunks(): AsyncIterable<Uint8Array> {
    for await (const chunk of source.chunks()) {
      if (stopped) return;
      yield chunk;
    }
  }
  const ids = new FingerprintList();
  const reserve = reservingFor(ids, source.size);
  const fingerprint = new Fingerprint();
  let header: SubscriptionHeader | undefined;
  let column = 0;
  let found: boolean;
  try {
    found = await scanSnapshot(
      chunks(),
      {
        header: (record) => {
          header = snapshotHeader(source.name, record, incident);
          column = header.index.subscription_id;
          return engine.begin(header);
        },
        plain: (bytes, cuts, line) => {
          ids.add(fingerprint.ofBytes(bytes, (cuts[column] as number) + 1, cuts[column + 1] as number));
          engine.plain(bytes, cuts, line);
        },
        record: (record) => {
          const id = recordIdOf(record, header as SubscriptionHeader);
          if (id !== undefined) ids.add(fingerprint.ofString(id));
          engine.record(record);
        },
      },
      async (bytesRead) => {
        if (stopped) return;
        reserve(bytesRead);
        engine.flush();
        options.onProgress?.(engine.run.counts.rows);
        await sink.drain?.();
        stopped = held.length > HELD_REJECTS_LIMIT || heldBytes > HELD_REJECT_BYTES;
      },
    );
  } catch (e) {
    if (writeFailed) return {};
    throw e;
  }
  if (stopped) return {};
  if (!found) throw emptySnapshot(source.name);
  const duplicates = await confirmDuplicates(source, ids.repeated());
  if (duplicates.ids.size > 0) return { duplicates };
  const counts = engine.finish();
  for (const r of held) sink.reject(r);
  return { counts };
}

/** The snapshot's first record, read exactly, its header, and where its first line ends (after its line feed). */
interface FirstRecord {
  header: SubscriptionHeader;
  record: CsvRecord;
  /** The offset just after the file's first line feed; -1 when there is none. */
  firstLineEnd: number;
}

/** The snapshot's header, read exactly from its first record, and that record. */
async function headerOf(source: ByteSource): Promise<FirstRecord> {
  let found: { header: SubscriptionHeader; record: CsvRecord } | undefined;
  let firstLineEnd = -1;
  let offset = 0;
  const scanner = new SnapshotScanner({
    header: (record) => {
      found = { header: snapshotHeader(source.name, record), record };
      return found.header.width;
    },
    plain: () => {},
    record: () => {},
  });
  for await (const chunk of source.chunks()) {
    if (firstLineEnd < 0) {
      const nl = chunk.indexOf(LF);
      if (nl !== -1) firstLineEnd = offset + nl + 1;
    }
    offset += chunk.length;
    scanner.push(chunk);
    if (found) return { ...found, firstLineEnd };
  }
  scanner.end();
  if (!found) throw emptySnapshot(source.name);
  return { ...found, firstLineEnd };
}

/** Visits the id of every record of the right width, exactly (the CSV grammar's records). */
async function visitIds(
  source: ByteSource,
  each: (f: Fingerprint, id: () => string) => void,
  afterChunk?: (bytesRead: number) => void,
): Promise<void> {
  let header: SubscriptionHeader | undefined;
  const fingerprint = new Fingerprint();
  const found = await scanSnapshot(
    source.chunks(),
    {
      header: (record) => {
        header = snapshotHeader(source.name, record);
        return header.width;
      },
      plain: (bytes, cuts) => {
        const k = (header as SubscriptionHeader).index.subscription_id;
        const start = (cuts[k] as number) + 1;
        const end = cuts[k + 1] as number;
        each(fingerprint.ofBytes(bytes, start, end), () => asciiText(bytes, start, end));
      },
      record: (record) => {
        const id = recordIdOf(record, header as SubscriptionHeader);
        if (id !== undefined) each(fingerprint.ofString(id), () => id);
      },
    },
    afterChunk,
  );
  if (!found) throw emptySnapshot(source.name);
}

/**
 * The id a record that is not a plain line counts with for duplicates: its `subscription_id` when its shape passes
 * (`checkShape`: the right width, no error reading it), else none. A plain line always counts, with its id column's
 * bytes. The one rule `visitIds` and `inOnePass` both follow, so that one pass finds the duplicates the other would.
 */
function recordIdOf(record: CsvRecord, header: SubscriptionHeader): string | undefined {
  return checkShape(record, header) ? undefined : (record.fields[header.index.subscription_id] as string);
}

/**
 * After the first chunk of a file of `fileSize` bytes, sizes `list` for all of it: the rest is expected to hold ids
 * as densely (10% to spare), so the list grows once instead of doubling on the way. Returns the `afterChunk` that
 * does it (nothing when the size is unknown).
 */
function reservingFor(list: FingerprintList, fileSize: number | undefined): (bytesRead: number) => void {
  let sized = fileSize === undefined;
  return (bytesRead) => {
    if (!sized && bytesRead > 0) list.reserve((1.1 * list.size * (fileSize as number)) / bytesRead);
    sized = true;
  };
}

/** The ids found more than once among the suspects' (fingerprints found twice), read exactly in one more pass. */
async function confirmDuplicates(source: ByteSource, suspects: FingerprintTable): Promise<Duplicates> {
  const ids = new DuplicateIds();
  if (suspects.size > 0) {
    await visitIds(source, (f, id) => {
      if (suspects.has(f)) ids.addId(id());
    });
  }
  return { suspects, ids: ids.duplicates };
}

async function findDuplicates(source: ByteSource, header: SubscriptionHeader): Promise<Duplicates> {
  const column = header.index.subscription_id;
  // Candidates first: ids found twice among every line's loosely read id (a superset of the records' ids), or,
  // when a line is not simple enough to read loosely, among the records' ids read exactly.
  const fingerprint = new Fingerprint();
  let seen = new FingerprintList();
  const note = (f: Fingerprint) => seen.add(f);
  const loose = await scanIdsLoosely(
    source.chunks(),
    column,
    (bytes, start, end) => note(fingerprint.ofBytes(bytes, start, end)),
    reservingFor(seen, source.size),
    { width: header.width },
  );
  if (!loose) {
    seen = new FingerprintList();
    await visitIds(source, note, reservingFor(seen, source.size));
  }
  return confirmDuplicates(source, seen.repeated());
}

/** A part of the snapshot's bytes, `[start, end)`, that starts at the start of a record. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What every range of one run shares: the header record, and the ids found more than once in the whole file. */
export interface RangeSetup {
  header: CsvRecord;
  duplicateIds: string[];
}

/**
 * A range's counts and rejects. Its rejects' line numbers count from 1 at the range's first line; its counts and
 * totals leave goodwill out (its candidates are in the outputs' marks).
 */
export interface RangeResult {
  counts: Omit<RunCounts, "totals">;
  totals: ServiceTotal[];
  rejects: RejectedRow[];
  /** Line feeds in the range (the next range's first line is this many further on). */
  lineFeeds: number;
}

/** Computes ranges one at a time, somewhere: a worker thread, or this one (`inThisThread`). */
export interface RangeRunner {
  /** A part of the first pass (see `idsOfPart`). */
  ids(job: IdsJob): Promise<IdsFound>;
  /** Computes `range`, handing its buffers to `output` in order, and resolves with its counts and rejects. */
  run(setup: RangeSetup, range: ByteRange, output: (o: RangeOutput) => void): Promise<RangeResult>;
}

/** How to split the passes: a runner per thread; the second pass in ranges of about `rangeBytes` bytes. */
export interface Parallel {
  runners: RangeRunner[];
  rangeBytes: number;
}

/** A part of the first pass: the ids of the lines that start in `[start, end)`, loosely read (scanIdsLoosely). */
export interface IdsJob {
  start: number;
  end: number;
  /** The id's column. */
  column: number;
  /** The header's width: the plain lines' ids are found by the WebAssembly scan (see scanIdsLoosely). */
  width: number;
  /** Where the second pass may be cut: after the first line feed at or after each multiple of this. */
  rangeBytes: number;
}

/** What a part of the first pass found. */
export interface IdsFound {
  /** The ids' fingerprints, sorted. */
  fingerprints: BigUint64Array;
  /** False when a line was not simple enough to read loosely (the whole first pass is then done exactly). */
  ok: boolean;
  /** The offset of the first quote in the bytes the job read, or -1. */
  firstQuote: number;
  /** Offsets just after the first line feed at or after each multiple of `rangeBytes` in `[start, end)`. */
  cuts: number[];
}

/**
 * One part of the first pass, from `chunks` of the file starting at `max(0, job.start - 1)` (read until the part's
 * last line ends): the fingerprints of the ids of the lines that start in `[start, end)` (a line belongs to the
 * part its first byte is in; the first line of the file is the header), sorted, and what the second pass needs to
 * know to cut the file: the first quote, and a line end after each multiple of `rangeBytes`.
 */
export async function idsOfPart(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  job: IdsJob,
): Promise<IdsFound> {
  let offset = Math.max(0, job.start - 1);
  let firstQuote = -1;
  const cuts: number[] = [];
  let target = Math.max(1, Math.ceil(job.start / job.rangeBytes)) * job.rangeBytes;
  // The bytes from the one before `start` (so that the first line read is the one it ends, or the header: either is
  // skipped as scanIdsLoosely skips a header) to the line feed that ends the line holding `end - 1`.
  async function* part(): AsyncIterable<Uint8Array> {
    for await (const chunk of chunks) {
      let piece = chunk;
      let last = false;
      if (offset + chunk.length > job.end - 1) {
        const nl = chunk.indexOf(LF, Math.max(0, job.end - 1 - offset));
        if (nl !== -1) {
          piece = chunk.subarray(0, nl + 1);
          last = true;
        }
      }
      if (firstQuote < 0) {
        const q = piece.indexOf(QUOTE);
        if (q !== -1) firstQuote = offset + q;
      }
      while (target < job.end && target < offset + piece.length) {
        const nl = piece.indexOf(LF, Math.max(0, target - offset));
        if (nl === -1) break; // that line ends in the next chunk
        cuts.push(offset + nl + 1);
        target += job.rangeBytes;
      }
      offset += piece.length;
      yield piece;
      if (last) return;
    }
  }
  const list = new FingerprintList();
  const fingerprint = new Fingerprint();
  const ok = await scanIdsLoosely(
    part(),
    job.column,
    (bytes, start, end) => list.add(fingerprint.ofBytes(bytes, start, end)),
    undefined,
    { width: job.width },
  );
  return { fingerprints: list.sorted(), ok, firstQuote, cuts };
}

/**
 * The first pass in parts, one per runner: the suspects (fingerprints found twice in all), and the ranges the second
 * pass may be cut into: after the header (a one-line header, line 1, with no quote), at line ends before the file's
 * first quote (a quote may open a field that spans lines: past the first one, a line feed is not known to end a
 * record without reading everything before it, so the rest is one range). Undefined when a line was not simple
 * enough to read loosely: the first pass is then done exactly, on one thread.
 */
async function idsInParallel(
  source: ByteSource,
  first: FirstRecord,
  parallel: Parallel,
): Promise<{ suspects: FingerprintTable; ranges: ByteRange[] } | undefined> {
  const size = source.size as number;
  const { runners, rangeBytes } = parallel;
  const column = first.header.index.subscription_id;
  const found = await Promise.all(
    runners.map((runner, k) =>
      runner.ids({
        start: Math.floor((size * k) / runners.length),
        end: Math.floor((size * (k + 1)) / runners.length),
        column,
        width: first.header.width,
        rangeBytes,
      }),
    ),
  );
  if (found.some((f) => !f.ok)) return undefined;
  const suspects = FingerprintList.repeatedIn(found.map((f) => f.fingerprints));
  const quotes = found.map((f) => f.firstQuote).filter((q) => q >= 0);
  const firstQuote = quotes.length > 0 ? Math.min(...quotes) : Number.POSITIVE_INFINITY;
  const headerEnd = first.firstLineEnd;
  if (first.record.line !== 1 || headerEnd <= 0 || firstQuote < headerEnd) return { suspects, ranges: [] };
  const starts = [headerEnd];
  for (const cut of found.flatMap((f) => f.cuts)) {
    if (cut <= firstQuote && cut > (starts[starts.length - 1] as number) && cut < size) starts.push(cut);
  }
  const ranges = starts.map((start, k) => ({ start, end: k + 1 < starts.length ? (starts[k + 1] as number) : size }));
  return { suspects, ranges };
}

/**
 * The engine of the ranges one thread computes, one after another in file order: one FastEngine throughout, so
 * that what it remembers (zones, classes, lines per fee) is worked out once per thread, not once per range. Its
 * counts and totals grow over the ranges; each range reports what it added. Goodwill is marked as candidates, every
 * credit a plain row earns (the joining thread keeps the one set of subscribers credited); a record the reference
 * judgement reads is marked once per subscriber per thread (its `RefundRun` keeps its own set: such records are few).
 */
export class RangeEngine {
  private readonly header: SubscriptionHeader;
  private readonly engine: FastEngine;
  private output: (o: RangeOutput) => void = () => {};
  private rejects: RejectedRow[] = [];
  // Its `totals` (empty) is never read: what a range added is counted from the counts' own keys.
  private counted: Omit<RunCounts, "totals"> = zeroRunCounts();
  private totaled = new Map<string, ServiceTotal>();
  /** Buffers handed back once written, to fill again: allocating 1 MiB per buffer costs zeroing and collections. */
  private readonly pool: Uint8Array[] = [];

  constructor(incident: Incident, format: LineFormat, name: string, setup: RangeSetup) {
    this.header = snapshotHeader(name, setup.header, incident);
    // Fresh buffers (they may be transferred), with goodwill as candidates for the joining thread to decide.
    const out = new LineBuffer(
      (bytes, marks) => this.output({ bytes, marks }),
      () => this.pool.pop() ?? new Uint8Array(BUFFER_BYTES),
      incident.goodwill !== undefined,
    );
    this.engine = new FastEngine(incident, out, (r) => this.rejects.push(r), duplicatesOf(setup.duplicateIds), format);
    this.engine.begin(this.header);
  }

  /** Takes back the buffer of an output once written (a buffer of BUFFER_BYTES; a longer one is let go). */
  recycle(buffer: ArrayBufferLike): void {
    if (buffer.byteLength === BUFFER_BYTES && this.pool.length < POOL_LIMIT) this.pool.push(new Uint8Array(buffer));
  }

  /**
   * Computes one range from its chunks (it starts at a record's first line): the lines the single-thread engine
   * writes for its records, in buffers handed to `output`, goodwill left as candidates (marks); its rejects, line
   * numbers counted from 1 at its first line, and what it added to the counts and totals.
   */
  async run(
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    output: (o: RangeOutput) => void,
  ): Promise<RangeResult> {
    this.output = output;
    this.rejects = [];
    const engine = this.engine;
    const scanner = new SnapshotScanner(
      {
        header: () => this.header.width,
        plain: (bytes, cuts, line) => engine.plain(bytes, cuts, line),
        record: (record) => engine.record(record),
      },
      { width: this.header.width, line: 1 },
    );
    for await (const chunk of chunks) {
      scanner.push(chunk);
      engine.flush();
    }
    scanner.end();
    const { totals, ...now } = engine.finish();
    const before = this.counted;
    const counts = { ...now };
    for (const key of Object.keys(counts) as (keyof typeof counts)[]) counts[key] -= before[key];
    this.counted = now;
    // Goodwill's totals are the joining thread's: a range's lines have a service, its goodwill none.
    const added: ServiceTotal[] = [];
    const totaled = new Map<string, ServiceTotal>();
    for (const t of totals) {
      if (t.serviceCode === null) continue;
      const key = `${t.serviceCode}\u0000${t.currency}`;
      totaled.set(key, { ...t });
      const was = this.totaled.get(key);
      const lines = t.lines - (was?.lines ?? 0);
      if (lines > 0) added.push({ ...t, lines, amount: t.amount - (was?.amount ?? 0n) });
    }
    this.totaled = totaled;
    return { counts, totals: added, rejects: this.rejects, lineFeeds: scanner.lineNumber - 1 };
  }
}

/**
 * A runner that computes each range in this thread, from `chunksOf(start, end)`: the threaded path's logic without
 * threads (tests force it onto small snapshots; the joined output must equal the single-thread one).
 */
export function inThisThread(
  incident: Incident,
  format: LineFormat,
  name: string,
  chunksOf: (range: ByteRange) => AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): RangeRunner {
  let engine: RangeEngine | undefined;
  return {
    ids: (job) => idsOfPart(chunksOf({ start: Math.max(0, job.start - 1), end: Number.MAX_SAFE_INTEGER }), job),
    run(setup, range, output) {
      engine ??= new RangeEngine(incident, format, name, setup);
      const e = engine;
      return e.run(chunksOf(range), (o) => output({ ...o, done: () => e.recycle(o.bytes.buffer) }));
    },
  };
}

/**
 * The second pass over ranges, joined in order. Each range is computed by a runner (a worker thread) on its own:
 * it starts at a record's first line (so its records are the single-thread scan's), with the header and the
 * duplicate ids of the whole file; its lines are written as they come when it is the first range not yet joined,
 * else held (at most a few ranges ahead are handed out, so little is held). Goodwill alone depends on the ranges
 * before: a range marks where a subscriber it credits would get its line, and this thread, in file order, keeps
 * the set of subscribers credited and writes the line only for one not credited before. Rejects and counts are
 * joined in order, rejects' line numbers moved by the lines before their range. A runner's error, or the sink's
 * (a full disk), fails the run with that error once every runner has ended the range it had, nothing written after.
 */
async function computeInRanges(
  incident: Incident,
  name: string,
  sink: LineBytesSink,
  format: LineFormat,
  duplicates: Duplicates,
  headerRecord: CsvRecord,
  ranges: ByteRange[],
  parallel: Parallel,
  options: { onProgress?: (rows: number) => void },
): Promise<RunCounts> {
  snapshotHeader(name, headerRecord, incident); // an unusable header stops the run before anything is written
  const setup: RangeSetup = { header: headerRecord, duplicateIds: [...duplicates.ids] };
  const joiner = new RangeJoiner(incident, sink, format);
  const held: RangeOutput[][] = [];
  const results: (RangeResult | undefined)[] = [];
  const ahead = parallel.runners.length + 1;
  let next = 0;
  let joined = 0;
  let failure: { error: unknown } | undefined;
  let waiting: (() => void)[] = [];
  const wakeAll = () => {
    const wake = waiting;
    waiting = [];
    for (const w of wake) w();
  };
  // The first error ends the run: the slots stop taking ranges, and what the runners still hand over is only given
  // back (a worker's late buffers would otherwise be written to outputs the command has already dropped).
  const fail = (e: unknown) => {
    failure ??= { error: e };
    wakeAll();
  };
  const step = async (runner: RangeRunner) => {
    const i = next++;
    held[i] = [];
    const result = await runner.run(setup, ranges[i] as ByteRange, (o) => {
      if (failure) return o.done?.();
      // Not thrown: a worker's output comes in a message listener, where a throw would escape the run (fail ends it).
      try {
        if (i === joined) joiner.write(o);
        else (held[i] as RangeOutput[]).push(o);
      } catch (e) {
        fail(e);
      }
    });
    if (failure) return;
    results[i] = result;
    while (joined < ranges.length && results[joined] !== undefined) {
      joiner.join(results[joined] as RangeResult);
      results[joined] = undefined;
      joined++;
      for (const o of held[joined] ?? []) joiner.write(o);
      held[joined] = [];
    }
    joiner.flush();
    options.onProgress?.(joiner.counts.rows);
    await sink.drain?.();
    wakeAll();
  };
  const slot = async (runner: RangeRunner) => {
    try {
      while (!failure) {
        while (next < ranges.length && next >= joined + ahead && !failure) {
          await new Promise<void>((r) => waiting.push(r));
        }
        if (next >= ranges.length || failure) return;
        await step(runner);
      }
    } catch (e) {
      fail(e);
    }
  };
  // Every slot ends (its range in hand computed, or failed) before the run does: nothing is written after it ends.
  await Promise.all(parallel.runners.map(slot));
  if (failure) throw failure.error;
  return joiner.finish();
}

/** Joins ranges' outputs, in order, into the run's: goodwill decided, counts summed, rejects renumbered. */
class RangeJoiner {
  readonly counts: RunCounts = zeroRunCounts();
  private readonly totals = new ServiceTotals();
  private readonly refunded = new CompactStringSet(1 << 16);
  private readonly out: LineBuffer;
  private readonly goodwill: { template: LineTemplate; amount: bigint; currency: string } | undefined;
  private readonly decoder = new TextDecoder();
  /** The first line of the next range to join (the header is line 1). */
  private line = 2;

  constructor(
    private readonly incident: Incident,
    private readonly sink: LineBytesSink,
    private readonly format: LineFormat,
  ) {
    this.out = new LineBuffer((bytes) => sink.write(bytes));
    const marks = marksFor(incident);
    const goodwill = goodwillLine(incident, marks.subscriber);
    if (goodwill) {
      const template = templateOf(format, goodwill, marks);
      this.goodwill = { template, amount: goodwill.amount, currency: goodwill.currency };
    }
  }

  /** One buffer of the range being joined: written, with the goodwill lines it is owed. */
  write(o: RangeOutput): void {
    const { bytes, marks } = o;
    const out = this.out;
    if (marks === undefined) {
      out.flush();
      this.sink.write(bytes);
      o.done?.();
      return;
    }
    const goodwill = this.goodwill as { template: LineTemplate };
    const { middle, tail } = goodwill.template;
    let from = 0;
    for (let k = 0; k < marks.at.length; k++) {
      const at = marks.at[k] as number;
      out.room(at - from);
      out.put(bytes.subarray(from, at));
      from = at;
      const start = k === 0 ? 0 : (marks.ends[k - 1] as number);
      const end = marks.ends[k] as number;
      if (marks.text[k] === 1) {
        const id = this.decoder.decode(marks.ids.subarray(start, end));
        if (!this.refunded.add(id)) continue;
        out.text(this.format(goodwillLine(this.incident, id) as RefundLine));
      } else {
        if (!this.refunded.addBytes(marks.ids, start, end)) continue;
        out.room(middle.length + tail.length + (end - start));
        out.put(middle);
        out.copy(marks.ids, start, end);
        out.put(tail);
      }
      this.counts.goodwillLines++;
      this.counts.lines++;
    }
    out.room(bytes.length - from);
    out.put(bytes.subarray(from));
    o.done?.();
  }

  /** A range's results, once all of its buffers are written. */
  join(result: RangeResult): void {
    const c = this.counts;
    const r = result.counts;
    c.rows += r.rows;
    c.computed += r.computed;
    c.skipped += r.skipped;
    c.rejected += r.rejected;
    c.lines += r.lines;
    c.goodwillLines += r.goodwillLines;
    for (const t of result.totals) this.totals.add(t.serviceCode, t.currency, t.lines, t.amount);
    for (const reject of result.rejects) this.sink.reject({ ...reject, line: reject.line + this.line - 1 });
    this.line += result.lineFeeds;
  }

  flush(): void {
    this.out.flush();
  }

  finish(): RunCounts {
    this.flush();
    const goodwill = this.goodwill;
    if (goodwill && this.counts.goodwillLines > 0) {
      const rows = this.counts.goodwillLines;
      this.totals.add(null, goodwill.currency, rows, goodwill.amount * BigInt(rows));
    }
    this.counts.totals = this.totals.list();
    return this.counts;
  }
}

class FastEngine {
  readonly run: RefundRun;
  private readonly out: LineBuffer;
  private header!: SubscriptionHeader;
  private width = 0;
  /** The byte path's judgement and classes; a (class, fee, currency)'s lines are its tails (see `tailsOf`). */
  private readonly rows: PlainRows<Uint8Array[]>;
  /** Per class and currency, each period's line tail split where its amount goes: a new fee only fills in the digits. */
  private readonly splits = new WeakMap<
    RowClass<Uint8Array[]>,
    Map<string, { before: Uint8Array; after: Uint8Array }[]>
  >();
  private readonly template: LineTemplate;
  private readonly goodwill: { template: LineTemplate; amount: bigint; currency: string; rows: number } | undefined;
  private readonly marks: { id: string; subscriber: string };

  /**
   * `out`'s marks, when given, take the goodwill lines' places: another thread decides them (see `computeInRanges`).
   */
  constructor(
    readonly incident: Incident,
    out: LineBuffer,
    reject: (r: RejectedRow) => void,
    duplicates: Duplicates,
    private readonly format: LineFormat,
  ) {
    this.out = out;
    const marks = out.marks !== undefined;
    this.run = new RefundRun(
      incident,
      {
        line: (line) => {
          if (marks && line.unit === "goodwill") {
            // Not a line yet: a candidate, counted where it is decided.
            this.run.counts.goodwillLines--;
            this.run.counts.lines--;
            this.out.markText(line.subscriberId as string);
          } else this.out.text(format(line));
        },
        reject,
      },
      (id) => isDuplicateId(duplicates, id),
    );
    this.rows = new PlainRows(
      incident,
      this.run.calculator,
      duplicates,
      (c, currency, amounts) => this.tailsOf(c, currency, amounts),
      this.run.totals,
    );
    this.marks = marksFor(incident);
    this.template = this.templateOf({
      subscriptionId: this.marks.id,
      subscriberId: this.marks.subscriber,
      serviceCode: null,
      periodStart: null,
      periodEnd: null,
      unit: "day",
      units: 0,
      basis: 0,
      amount: 0n,
      currency: "",
    });
    const goodwill = goodwillLine(incident, this.marks.subscriber);
    if (goodwill) {
      this.goodwill = {
        template: this.templateOf(goodwill),
        amount: goodwill.amount,
        currency: goodwill.currency,
        rows: 0,
      };
    }
  }

  /** The header is known: returns the width every record must have. */
  begin(header: SubscriptionHeader): number {
    this.header = header;
    this.width = header.width;
    this.rows.begin(header);
    return header.width;
  }

  /** A record the byte path does not take: the reference engine's judgement. */
  record(record: CsvRecord): void {
    this.run.record(record, this.header);
  }

  /** A plain line: computed in place when every field passes; else judged as a record. */
  plain(bytes: Uint8Array, cuts: Int32Array, line: number): void {
    if (!this.fast(bytes, cuts)) this.record(plainRecord(bytes, cuts, this.width, line));
  }

  /** Computes a plain line whose fields all pass and returns true; false (having done nothing) otherwise. */
  private fast(bytes: Uint8Array, cuts: Int32Array): boolean {
    const rows = this.rows;
    if (!rows.accept(bytes, cuts)) return false;
    const { counts } = this.run;
    rows.countTaken(counts);
    const { idStart, idEnd, subStart, subEnd, rowClass } = rows;
    const out = this.out;
    if (rowClass !== undefined) {
      const entry = rows.entryOf(rowClass, rows.fee, rows.currency);
      entry.rows++;
      const { head, middle } = this.template;
      for (const tail of entry.out) {
        out.room(head.length + middle.length + tail.length + (idEnd - idStart) + (subEnd - subStart));
        out.put(head);
        out.copy(bytes, idStart, idEnd);
        out.put(middle);
        out.copy(bytes, subStart, subEnd);
        out.put(tail);
      }
      counts.lines += entry.out.length;
    }
    if (
      this.goodwill &&
      creditsSubscriber(
        this.incident,
        { activeFrom: rows.activeFrom, activeTo: rows.activeTo, cells: rows.cells },
        rowClass !== undefined,
      )
    ) {
      // On a worker, every credit of a plain row is a candidate: the joining thread decides in file order and keeps
      // the one set of subscribers credited (a set here too would hold them twice over: 9M subscribers are hundreds
      // of MB). Records the reference judgement reads are few, and deduplicated by its `RefundRun` before marking.
      if (out.marks !== undefined) {
        out.mark(bytes, subStart, subEnd);
        return true;
      }
      if (!this.run.refunded.addBytes(bytes, subStart, subEnd)) return true;
      const { template } = this.goodwill;
      out.room(template.middle.length + template.tail.length + (subEnd - subStart));
      out.put(template.middle);
      out.copy(bytes, subStart, subEnd);
      out.put(template.tail);
      this.goodwill.rows++;
      counts.goodwillLines++;
      counts.lines++;
    }
    return true;
  }

  private templateOf(line: RefundLine): LineTemplate {
    return templateOf(this.format, line, this.marks);
  }

  /** Hands the lines gathered so far to the sink. */
  flush(): void {
    this.out.flush();
  }

  finish(): RunCounts {
    this.flush();
    this.rows.settleAll();
    if (this.goodwill && this.goodwill.rows > 0) {
      const { currency, amount, rows } = this.goodwill;
      this.run.totals.add(null, currency, rows, amount * BigInt(rows));
    }
    return this.run.finish();
  }

  /** A (class, fee, currency)'s line tails: the class's tails in that currency with the amounts' digits filled in. */
  private tailsOf(c: RowClass<Uint8Array[]>, currency: string, amounts: readonly bigint[]): Uint8Array[] {
    const split = this.splitOf(c, currency);
    return amounts.map((amount, k) => {
      const { before, after } = split[k] as { before: Uint8Array; after: Uint8Array };
      const digits = String(amount);
      const tail = new Uint8Array(before.length + digits.length + after.length);
      tail.set(before);
      for (let i = 0; i < digits.length; i++) tail[before.length + i] = digits.charCodeAt(i);
      tail.set(after, before.length + digits.length);
      return tail;
    });
  }

  /**
   * A class's line tails in a currency, each split where the amount's digits go: found by rendering the line
   * with amounts 0 and 1 and seeing where the two differ (the format writes an amount as its plain digits).
   */
  private splitOf(c: RowClass<Uint8Array[]>, currency: string): { before: Uint8Array; after: Uint8Array }[] {
    let byCurrency = this.splits.get(c);
    if (!byCurrency) {
      byCurrency = new Map();
      this.splits.set(c, byCurrency);
    }
    let split = byCurrency.get(currency);
    if (!split) {
      const ids = { subscriptionId: this.marks.id, subscriberId: this.marks.subscriber };
      const tailWith = (p: PeriodUnits, amount: bigint) =>
        this.templateOf(periodLine(ids, c.service, p, amount, currency)).tail;
      split = c.periods.map((p) => {
        const zero = tailWith(p, 0n);
        const one = tailWith(p, 1n);
        let at = 0;
        while (zero[at] === one[at]) at++;
        return { before: zero.slice(0, at), after: zero.slice(at + 1) };
      });
      byCurrency.set(currency, split);
    }
    return split;
  }
}
