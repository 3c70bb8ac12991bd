import type { CompactStringSet } from "../collections/compact-string-set";
import { Fingerprint, FingerprintList, type FingerprintTable } from "../collections/fingerprint-table";
import type { CsvRecord } from "../csv/csv-record-reader";
import { SnapshotScanner, scanIdsLoosely, scanSnapshot } from "../csv/snapshot-scanner";
import type { Incident } from "../input/incident";
import { checkShape, type RejectedRow, type SubscriptionHeader } from "../input/subscription-row";
import { clipTo, type Interval } from "../interval/interval-set";
import { isCurrencyCode } from "../money/currency";
import { prorate } from "../money/rounding";
import { toJsonLine } from "../output/line-format";
import { creditsSubscriber, goodwillLine } from "../rules/goodwill";
import type { PeriodUnits } from "../rules/period-units";
import { formatDay } from "../time/civil-date";
import { resolveTimeZone } from "../time/time-zone";
import { timestampAt } from "../time/timestamp";
import { TZDB_NAMES } from "../time/tzdb-names";
import { type ZonedClock, zonedClock } from "../time/zoned-clock";
import { DuplicateIds, emptySnapshot, RefundRun, type RunCounts, snapshotHeader } from "./compute-refunds";
import type { RefundLine } from "./refund-line";

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
}

const BUFFER_BYTES = 1 << 20;
const MAX_ID = 128;
/** Fees up to 15 digits are exact doubles and their products with any units stay below 2^53 for the lookup key. */
const MAX_FAST_FEE_DIGITS = 15;
/** Bounds on what the engine remembers (a few hundred bytes an entry): past them it settles and starts afresh. */
const PARTIAL_CLASSES_LIMIT = 20_000;
const FEE_ENTRIES_LIMIT = 10_000;

/** JSON lines gathered in 1 MiB buffers, handed on whole. */
class LineBuffer {
  private buffer = new Uint8Array(BUFFER_BYTES);
  private used = 0;
  private readonly encoder = new TextEncoder();

  constructor(private readonly sink: LineBytesSink) {}

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

  flush(): void {
    if (this.used === 0) return;
    this.sink.write(this.buffer.subarray(0, this.used));
    this.used = 0;
  }
}

const ascii = new TextDecoder();
const bytesOf = (text: string) => new TextEncoder().encode(text);

/** The text of printable-ASCII bytes. */
function asciiText(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > 64) return ascii.decode(bytes.subarray(start, end));
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i] as number);
  return s;
}

/** The record the CSV reader would make of a plain line (its fields as text). */
function recordOf(bytes: Uint8Array, cuts: Int32Array, width: number, line: number): CsvRecord {
  const fields: string[] = [];
  for (let k = 0; k < width; k++) fields.push(asciiText(bytes, (cuts[k] as number) + 1, cuts[k + 1] as number));
  return { line, fields };
}

function sameBytes(a: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== bytes[start + i]) return false;
  return true;
}

/** How lines are written: JSON lines or CSV rows, each from a RefundLine (see line-format.ts). */
export type LineFormat = (line: RefundLine) => string;

/**
 * A line split where its two ids go: `head` id `middle` subscriber `tail`. Made by the format itself from
 * placeholder ids, so the fast lines are the plain engine's byte for byte: a plain-ASCII id without quotes,
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

/** The lines one (class, fee, currency) owes per row: one per billing period, amounts computed once. */
interface FeeEntry {
  currencyCode: string;
  tails: Uint8Array[];
  amounts: bigint[];
  /** Rows that took these lines, for the totals (settled when the class is dropped, and at the end). */
  rows: number;
}

/** Rows alike for the rule: one service, zone, billing day and suspended pieces; their units counted once. */
interface RowClass {
  service: string;
  periods: PeriodUnits[];
  fees: Map<number, FeeEntry[]>;
  /** Per currency, each period's line tail split where its amount goes: a new fee only fills in the digits. */
  tails: Map<string, { before: Uint8Array; after: Uint8Array }[]>;
}

/** A zone met in the snapshot: its tz database name and its clock. */
interface ZoneEntry {
  zone: string;
  clock: ZonedClock;
}

/** How many written forms of zones are remembered as bytes (the rest are read as text, still memoised). */
const WRITTEN_ZONES_LIMIT = 64;
/** Combinations of `where` cells remembered at once (a where on a column of unique values would grow it per row). */
const WINDOW_SET_MEMO_LIMIT = 4096;
/** Cells of a lone `where` column compared byte by byte before the Map is asked (a scan: kept short). */
const CELL_MEMO_LIMIT = 16;

/**
 * The fast engine: the same lines, rejects and counts as `computeRefunds`, from the snapshot's bytes. A plain
 * line (see SnapshotScanner) whose fields all pass is computed without a string or a date object: its fields are
 * checked in place, its units come from its class (service, zone, billing day, suspended pieces: a handful for a
 * million rows), and its JSON lines are the class's bytes around its two ids. Anything else — a quoted or
 * non-ASCII record, a row with any fault, a duplicate id, a fee of more than 15 digits — goes through
 * `RefundRun`, the plain engine's own judgement. Contract v2's scope takes the byte path too: a row's windows are
 * the set its cells match (one class per set), and goodwill, on either path, is what `creditsSubscriber` decides. Duplicates are found in a first pass with 64-bit fingerprints
 * (8 bytes an id, not a string), confirmed with the ids themselves in a pass over the suspects only.
 */
export async function computeRefundLines(
  incident: Incident,
  source: ByteSource,
  sink: LineBytesSink,
  options: { format?: LineFormat; onProgress?: (rows: number) => void } = {},
): Promise<RunCounts> {
  const duplicates = await findDuplicates(source);
  const engine = new FastEngine(incident, sink, duplicates, options.format ?? toJsonLine);
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

/** Ids that occur more than once: the suspects' fingerprints, and the ids confirmed among them. */
interface Duplicates {
  suspects: FingerprintTable;
  ids: CompactStringSet;
}

/** The snapshot's header, read exactly from its first record. */
async function headerOf(source: ByteSource): Promise<SubscriptionHeader> {
  let header: SubscriptionHeader | undefined;
  const scanner = new SnapshotScanner({
    header: (record) => {
      header = snapshotHeader(source.name, record);
      return header.width;
    },
    plain: () => {},
    record: () => {},
  });
  for await (const chunk of source.chunks()) {
    scanner.push(chunk);
    if (header) return header;
  }
  scanner.end();
  if (!header) throw emptySnapshot(source.name);
  return header;
}

async function findDuplicates(source: ByteSource): Promise<Duplicates> {
  let header: SubscriptionHeader | undefined;
  const fingerprint = new Fingerprint();
  const visitIds = async (
    each: (f: Fingerprint, id: () => string) => void,
    afterChunk?: (bytesRead: number) => void,
  ) => {
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
          const h = header as SubscriptionHeader;
          if (checkShape(record, h)) return;
          const id = record.fields[h.index.subscription_id] as string;
          each(fingerprint.ofString(id), () => id);
        },
      },
      afterChunk,
    );
    if (!found) throw emptySnapshot(source.name);
  };

  // Candidates first: ids found twice among every line's loosely read id (a superset of the records' ids), or,
  // when a line is not simple enough to read loosely, among the records' ids read exactly.
  let seen = new FingerprintList();
  let sized = source.size === undefined;
  const note = (f: Fingerprint) => seen.add(f);
  const size = (bytesRead: number) => {
    // After the first chunk, the rest of the file is expected to hold ids as densely (10% to spare).
    if (!sized && bytesRead > 0) seen.reserve((1.1 * seen.size * (source.size as number)) / bytesRead);
    sized = true;
  };
  const column = (await headerOf(source)).index.subscription_id;
  const loose = await scanIdsLoosely(
    source.chunks(),
    column,
    (bytes, start, end) => note(fingerprint.ofBytes(bytes, start, end)),
    size,
  );
  if (!loose) {
    seen = new FingerprintList();
    sized = source.size === undefined;
    await visitIds(note, size);
  }
  const suspects = seen.repeated();
  const ids = new DuplicateIds();
  if (suspects.size > 0) {
    await visitIds((f, id) => {
      if (suspects.has(f)) ids.addId(id());
    });
  }
  return { suspects, ids: ids.duplicates };
}

class FastEngine {
  readonly run: RefundRun;
  private readonly out: LineBuffer;
  private header!: SubscriptionHeader;
  private width = 0;
  /** Field positions in the contract's order: id, subscriber, service, fee, currency, from, to, zone, day. */
  private readonly at = new Int32Array(9);
  private readonly services: { code: Uint8Array; name: string; windows: Interval[]; scoped: boolean }[] = [];
  /**
   * The sets of merged windows rows are computed against, a row's class being one of them: first one per service
   * (all its windows), then, for a service whose windows have a `where` (contract v2), one per set of windows a
   * row matches, found by the plain engine's own `windowsOf` (whose memo makes each set one array).
   */
  private readonly windowSets: { name: string; windows: Interval[] }[] = [];
  private readonly windowSetIndex = new Map<Interval[], number>();
  /** A row's cells (service and text of each column a `where` names) → its index in `windowSets`. */
  private readonly windowSetMemo = new Map<string, number>();
  /**
   * With one `where` column (a plan, a brand: a handful of values), the first cells met, as bytes, and their set of
   * windows: found by comparing bytes, without making the cell's text (the common case's per-row cost).
   */
  private readonly cellMemo: { service: number; cell: Uint8Array; index: number }[] = [];
  /** The zones met, the incident's first; a zone's index is part of its rows' class key. */
  private readonly zones: ZoneEntry[] = [];
  private readonly zoneIndex = new Map<string, number>();
  /** Written forms of zones already resolved (empty: the incident's), with their index in `zones`. */
  private readonly written: { bytes: Uint8Array; zone: number }[] = [];
  private readonly currencies = new Map<number, string | null>();
  /** Rows whose active range holds all of their service's windows, by service, zone and billing day. */
  private readonly whole = new Map<number, RowClass>();
  private partial = new Map<string, RowClass>();
  private readonly template: LineTemplate;
  private readonly goodwill: { template: LineTemplate; amount: bigint; currency: string; rows: number } | undefined;
  private readonly fingerprint = new Fingerprint();
  private readonly date = { day: Number.NaN };
  /** Lines per (class, fee, currency) held now, across all classes. */
  private feeEntries = 0;
  private readonly marks: { id: string; subscriber: string };

  constructor(
    readonly incident: Incident,
    sink: LineBytesSink,
    private readonly duplicates: Duplicates,
    private readonly format: LineFormat,
  ) {
    this.out = new LineBuffer(sink);
    this.run = new RefundRun(
      incident,
      { line: (line) => this.out.text(format(line)), reject: (r) => sink.reject(r) },
      (id) => duplicates.ids.size > 0 && duplicates.ids.has(id),
    );
    for (const [name, windows] of incident.windows) {
      this.services.push({ code: bytesOf(name), name, windows, scoped: incident.scopedWindows.has(name) });
      this.windowSets.push({ name, windows });
    }
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
    const i = header.index;
    this.at.set([
      i.subscription_id,
      i.subscriber_id,
      i.service_code,
      i.monthly_fee,
      i.currency,
      i.active_from,
      i.active_to,
      i.time_zone,
      i.billing_day,
    ]);
    return header.width;
  }

  /** A record the byte path does not take: the plain engine's judgement. */
  record(record: CsvRecord): void {
    this.run.record(record, this.header);
  }

  /** A plain line: computed in place when every field passes; else judged as a record. */
  plain(bytes: Uint8Array, cuts: Int32Array, line: number): void {
    if (!this.fast(bytes, cuts)) this.record(recordOf(bytes, cuts, this.width, line));
  }

  /** Computes a plain line whose fields all pass and returns true; false (having done nothing) otherwise. */
  private fast(bytes: Uint8Array, cuts: Int32Array): boolean {
    const at = this.at;
    // Field c of the contract's order spans cuts[at[c]] + 1 … cuts[at[c] + 1].
    const idStart = (cuts[at[0] as number] as number) + 1;
    const idEnd = cuts[(at[0] as number) + 1] as number;
    const subStart = (cuts[at[1] as number] as number) + 1;
    const subEnd = cuts[(at[1] as number) + 1] as number;
    const svcStart = (cuts[at[2] as number] as number) + 1;
    const svcEnd = cuts[(at[2] as number) + 1] as number;
    if (this.duplicates.ids.size > 0 && this.isDuplicate(bytes, idStart, idEnd)) return false;
    if (idEnd === idStart || idEnd - idStart > MAX_ID) return false;
    if (subEnd === subStart || subEnd - subStart > MAX_ID) return false;
    if (svcEnd === svcStart || svcEnd - svcStart > MAX_ID) return false;

    const fee = feeAt(bytes, (cuts[at[3] as number] as number) + 1, cuts[(at[3] as number) + 1] as number);
    if (fee < 0) return false;
    const currency = this.currencyAt(
      bytes,
      (cuts[at[4] as number] as number) + 1,
      cuts[(at[4] as number) + 1] as number,
    );
    if (currency === null) return false;

    const date = this.date;
    const from = timestampAt(bytes, (cuts[at[5] as number] as number) + 1, cuts[(at[5] as number) + 1] as number, date);
    const fromDay = date.day;
    if (Number.isNaN(from) && Number.isNaN(fromDay)) return false;
    const toStart = (cuts[at[6] as number] as number) + 1;
    const toEnd = cuts[(at[6] as number) + 1] as number;
    let to = Number.POSITIVE_INFINITY;
    let toDay = Number.NaN;
    if (toEnd > toStart) {
      to = timestampAt(bytes, toStart, toEnd, date);
      toDay = date.day;
      if (Number.isNaN(to) && Number.isNaN(toDay)) return false;
    }
    const zone = this.zoneAt(bytes, (cuts[at[7] as number] as number) + 1, cuts[(at[7] as number) + 1] as number);
    if (zone < 0) return false;
    const billingDay = billingDayAt(
      bytes,
      (cuts[at[8] as number] as number) + 1,
      cuts[(at[8] as number) + 1] as number,
    );
    if (billingDay < 0) return false;
    const { clock } = this.zones[zone] as ZoneEntry;
    const activeFrom = Number.isNaN(fromDay) ? from : clock.startOfDay(fromDay);
    const activeTo = Number.isNaN(toDay) ? to : clock.startOfDay(toDay);
    if (activeTo <= activeFrom) return false;

    const { counts } = this.run;
    counts.rows++;
    const service = this.serviceAt(bytes, svcStart, svcEnd);
    // The cells a `where` looks at (contract v2), read only for a row they decide something of: its service's
    // windows have a `where`, or goodwill has one. A plain line is ASCII.
    const whereAt = this.header.whereAt;
    const scoped = service >= 0 && (this.services[service] as { scoped: boolean }).scoped;
    const windowSet = scoped && whereAt ? this.windowSetAt(service, bytes, cuts, whereAt) : service;
    let cells: Map<string, string> | undefined;
    if (whereAt && this.incident.goodwill?.where) {
      cells = new Map();
      for (const [column, k] of whereAt)
        cells.set(column, asciiText(bytes, (cuts[k] as number) + 1, cuts[k + 1] as number));
    }
    const rowClass = service < 0 ? undefined : this.classOf(windowSet, zone, billingDay, activeFrom, activeTo);
    if (service < 0) counts.skipped++;
    else counts.computed++;
    const out = this.out;
    if (rowClass !== undefined) {
      const entry = this.entryOf(rowClass, fee, currency);
      entry.rows++;
      const { head, middle } = this.template;
      for (const tail of entry.tails) {
        out.room(head.length + middle.length + tail.length + (idEnd - idStart) + (subEnd - subStart));
        out.put(head);
        out.copy(bytes, idStart, idEnd);
        out.put(middle);
        out.copy(bytes, subStart, subEnd);
        out.put(tail);
      }
      counts.lines += entry.tails.length;
    }
    if (
      this.goodwill &&
      creditsSubscriber(this.incident, { activeFrom, activeTo, cells }, rowClass !== undefined) &&
      this.run.refunded.addBytes(bytes, subStart, subEnd)
    ) {
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
    for (const c of this.whole.values()) this.settle(c);
    for (const c of this.partial.values()) this.settle(c);
    if (this.goodwill && this.goodwill.rows > 0) {
      const { currency, amount, rows } = this.goodwill;
      this.run.totals.add(null, currency, rows, amount * BigInt(rows));
    }
    return this.run.finish();
  }

  private isDuplicate(bytes: Uint8Array, start: number, end: number): boolean {
    return (
      this.duplicates.suspects.has(this.fingerprint.ofBytes(bytes, start, end)) &&
      this.duplicates.ids.has(asciiText(bytes, start, end))
    );
  }

  /** The currency of a three-capital code ISO 4217 knows, or null. */
  private currencyAt(bytes: Uint8Array, start: number, end: number): string | null {
    if (end - start !== 3) return null;
    const a = bytes[start] as number;
    const b = bytes[start + 1] as number;
    const c = bytes[start + 2] as number;
    if (a < 65 || a > 90 || b < 65 || b > 90 || c < 65 || c > 90) return null;
    const key = (a << 16) | (b << 8) | c;
    let code = this.currencies.get(key);
    if (code === undefined) {
      const text = String.fromCharCode(a, b, c);
      code = isCurrencyCode(text) ? text : null;
      this.currencies.set(key, code);
    }
    return code;
  }

  /** Index of the row's zone in `zones` (the incident's when the field is empty), or -1 when it is none. */
  private zoneAt(bytes: Uint8Array, start: number, end: number): number {
    const written = this.written;
    for (let i = 0; i < written.length; i++) {
      const w = written[i] as { bytes: Uint8Array; zone: number };
      if (sameBytes(w.bytes, bytes, start, end)) return w.zone;
    }
    const zone = end === start ? this.incident.timeZone : resolveTimeZone(asciiText(bytes, start, end));
    if (zone === undefined) return -1;
    let index = this.zoneIndex.get(zone);
    if (index === undefined) {
      index = this.zones.push({ zone, clock: zonedClock(zone) }) - 1;
      this.zoneIndex.set(zone, index);
    }
    if (written.length < WRITTEN_ZONES_LIMIT) written.push({ bytes: bytes.slice(start, end), zone: index });
    return index;
  }

  private serviceAt(bytes: Uint8Array, start: number, end: number): number {
    const services = this.services;
    for (let i = 0; i < services.length; i++) {
      if (sameBytes((services[i] as { code: Uint8Array }).code, bytes, start, end)) return i;
    }
    return -1;
  }

  /**
   * The index in `windowSets` of the windows that apply to a row of a scoped service, from its cells: remembered by
   * the cells' text (a few distinct values a column, as a finance extract's plan or brand has), so that the plain
   * engine's `windowsOf` decides each combination once, not each row. Bounded: past WINDOW_SET_MEMO_LIMIT
   * combinations the memo starts again.
   */
  private windowSetAt(
    service: number,
    bytes: Uint8Array,
    cuts: Int32Array,
    whereAt: ReadonlyMap<string, number>,
  ): number {
    if (whereAt.size === 1) {
      const k = whereAt.values().next().value as number;
      const start = (cuts[k] as number) + 1;
      const end = cuts[k + 1] as number;
      for (const m of this.cellMemo) if (m.service === service && sameBytes(m.cell, bytes, start, end)) return m.index;
      const index = this.windowSetByText(service, bytes, cuts, whereAt);
      if (this.cellMemo.length < CELL_MEMO_LIMIT) this.cellMemo.push({ service, cell: bytes.slice(start, end), index });
      return index;
    }
    return this.windowSetByText(service, bytes, cuts, whereAt);
  }

  /** `windowSetAt` by the cells' text, remembered in a bounded Map. */
  private windowSetByText(
    service: number,
    bytes: Uint8Array,
    cuts: Int32Array,
    whereAt: ReadonlyMap<string, number>,
  ): number {
    let key = String(service);
    for (const k of whereAt.values()) {
      const text = asciiText(bytes, (cuts[k] as number) + 1, cuts[k + 1] as number);
      key += `|${text.length}:${text}`; // length-prefixed: no cell can make two rows' keys alike
    }
    let index = this.windowSetMemo.get(key);
    if (index !== undefined) return index;
    const cells = new Map<string, string>();
    for (const [column, k] of whereAt)
      cells.set(column, asciiText(bytes, (cuts[k] as number) + 1, cuts[k + 1] as number));
    const { name } = this.services[service] as { name: string };
    const windows = this.run.calculator.windowsOf({ serviceCode: name, cells }) as Interval[];
    index = this.windowSetIndex.get(windows);
    if (index === undefined) {
      index = this.windowSets.push({ name, windows }) - 1;
      this.windowSetIndex.set(windows, index);
    }
    if (this.windowSetMemo.size >= WINDOW_SET_MEMO_LIMIT) this.windowSetMemo.clear();
    this.windowSetMemo.set(key, index);
    return index;
  }

  /**
   * The class of a row, by the index of its set of windows, or undefined when its active range misses every one
   * of them (or the row matches none).
   */
  private classOf(service: number, zone: number, billingDay: number, from: number, to: number): RowClass | undefined {
    const { windows, name } = this.windowSets[service] as { windows: Interval[]; name: string };
    if (windows.length === 0) return undefined;
    const first = windows[0] as Interval;
    const last = windows[windows.length - 1] as Interval;
    const { zone: zoneName } = this.zones[zone] as ZoneEntry;
    if (from <= first.start && to >= last.end) {
      // A zone's index is below the number of tz database names, a billing day below 32.
      const key = (service * TZDB_NAMES.length + zone) * 32 + billingDay;
      let c = this.whole.get(key);
      if (!c) {
        c = this.newClass(name, zoneName, billingDay, windows);
        this.whole.set(key, c);
      }
      return c;
    }
    const pieces = clipTo(windows, from, to);
    if (pieces.length === 0) return undefined;
    let key = `${service}|${zone}|${billingDay}`;
    for (const p of pieces) key += `|${p.start},${p.end}`;
    let c = this.partial.get(key);
    if (!c) {
      if (this.partial.size >= PARTIAL_CLASSES_LIMIT) {
        this.forgetFees();
        this.partial = new Map();
      }
      c = this.newClass(name, zoneName, billingDay, pieces);
      this.partial.set(key, c);
    }
    return c;
  }

  private newClass(service: string, zone: string, billingDay: number, pieces: readonly Interval[]): RowClass {
    const periods = this.run.calculator.unitsFor({ zone, billingDay }, pieces);
    return { service, periods, fees: new Map(), tails: new Map() };
  }

  private entryOf(c: RowClass, fee: number, currency: string): FeeEntry {
    let list = c.fees.get(fee);
    if (!list) {
      list = [];
      c.fees.set(fee, list);
    }
    for (const e of list) if (e.currencyCode === currency) return e;
    if (this.feeEntries >= FEE_ENTRIES_LIMIT) {
      this.forgetFees();
      return this.entryOf(c, fee, currency);
    }
    this.feeEntries++;
    const amounts = c.periods.map((p) => prorate(BigInt(fee), p.units, p.basis, this.incident.rounding));
    const split = this.tailsOf(c, currency);
    const tails = amounts.map((amount, k) => {
      const { before, after } = split[k] as { before: Uint8Array; after: Uint8Array };
      const digits = String(amount);
      const tail = new Uint8Array(before.length + digits.length + after.length);
      tail.set(before);
      for (let i = 0; i < digits.length; i++) tail[before.length + i] = digits.charCodeAt(i);
      tail.set(after, before.length + digits.length);
      return tail;
    });
    const entry: FeeEntry = { currencyCode: currency, tails, amounts, rows: 0 };
    list.push(entry);
    return entry;
  }

  /**
   * A class's line tails in a currency, each split where the amount's digits go: found by rendering the line
   * with amounts 0 and 1 and seeing where the two differ (the format writes an amount as its plain digits).
   */
  private tailsOf(c: RowClass, currency: string): { before: Uint8Array; after: Uint8Array }[] {
    let split = c.tails.get(currency);
    if (!split) {
      const tailWith = (p: PeriodUnits, amount: bigint) =>
        this.templateOf({
          subscriptionId: this.marks.id,
          subscriberId: this.marks.subscriber,
          serviceCode: c.service,
          periodStart: formatDay(p.period.start),
          periodEnd: formatDay(p.period.end),
          unit: p.unit,
          units: p.units,
          basis: p.basis,
          amount,
          currency,
        }).tail;
      split = c.periods.map((p) => {
        const zero = tailWith(p, 0n);
        const one = tailWith(p, 1n);
        let at = 0;
        while (zero[at] === one[at]) at++;
        return { before: zero.slice(0, at), after: zero.slice(at + 1) };
      });
      c.tails.set(currency, split);
    }
    return split;
  }

  /**
   * Settles every class and forgets its lines per fee, so that memory stays bounded however many different fees
   * the snapshot holds (a fee met again is simply rendered again).
   */
  private forgetFees(): void {
    for (const classes of [this.whole.values(), this.partial.values()]) {
      for (const c of classes) {
        this.settle(c);
        c.fees.clear();
      }
    }
    this.feeEntries = 0;
  }

  /** Adds a class's rows to the totals (once: its counters restart at zero). */
  private settle(c: RowClass): void {
    for (const list of c.fees.values()) {
      for (const e of list) {
        if (e.rows === 0) continue;
        const rows = BigInt(e.rows);
        for (const amount of e.amounts) this.run.totals.add(c.service, e.currencyCode, e.rows, amount * rows);
        e.rows = 0;
      }
    }
  }
}

/** A fee of digits without sign or leading zeros, up to 15 digits, or -1 (the plain engine then judges it). */
function feeAt(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length === 0 || length > MAX_FAST_FEE_DIGITS || (bytes[start] === 48 && length > 1)) return -1;
  let fee = 0;
  for (let i = start; i < end; i++) {
    const d = (bytes[i] as number) - 48;
    if (d < 0 || d > 9) return -1;
    fee = fee * 10 + d;
  }
  return fee;
}

/** A billing day 1–31 without leading zeros (1 when empty), or -1. */
function billingDayAt(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length === 0) return 1;
  const a = (bytes[start] as number) - 48;
  if (a < 1 || a > 9) return -1;
  if (length === 1) return a;
  const b = (bytes[start + 1] as number) - 48;
  if (length !== 2 || b < 0 || b > 9) return -1;
  const day = a * 10 + b;
  return day <= 31 ? day : -1;
}
