import { CompactStringSet } from "../../collections/compact-string-set";
import { Fingerprint, FingerprintTable } from "../../collections/fingerprint-table";
import { asciiText } from "../../csv/snapshot-scanner";
import type { Incident } from "../../input/incident";
import { MAX_ID_CHARS, type SubscriptionHeader } from "../../input/subscription-row";
import { clipTo, type Interval } from "../../interval/interval-set";
import { isCurrencyCode } from "../../money/currency";
import { prorate } from "../../money/rounding";
import type { ServiceTotals } from "../../money/service-totals";
import type { PeriodUnits } from "../../rules/period-units";
import { resolveTimeZone } from "../../time/time-zone";
import { timestampAt } from "../../time/timestamp";
import { TZDB_NAMES } from "../../time/tzdb-names";
import { type ZonedClock, zonedClock } from "../../time/zoned-clock";
import type { RowCounts, SubscriptionCalculator } from "../compute-subscription";

/** Fees up to 15 digits are exact doubles and their products with any units stay below 2^53 for the lookup key. */
const MAX_FAST_FEE_DIGITS = 15;
/** Bounds on what is remembered (a few hundred bytes an entry): past them the classes settle and start afresh. */
const PARTIAL_CLASSES_LIMIT = 20_000;
const FEE_ENTRIES_LIMIT = 10_000;
/** How many written forms of zones are remembered as bytes (the rest are read as text, still memoised). */
const WRITTEN_ZONES_LIMIT = 64;
/** Combinations of `where` cells remembered at once (a where on a column of unique values would grow it per row). */
const WINDOW_SET_MEMO_LIMIT = 4096;
/** Cells of a lone `where` column compared byte by byte before the Map is asked (a scan: kept short). */
const CELL_MEMO_LIMIT = 16;

/** Ids that occur more than once: the suspects' fingerprints, and the ids confirmed among them. */
export interface Duplicates {
  suspects: FingerprintTable;
  ids: CompactStringSet;
}

/**
 * The lines one (class, fee, currency) owes per row: one per billing period, amounts computed once, and what the
 * reader of the rows made of them once (`out`: the fast engine's JSON tails, the pipeline's line values).
 */
export interface FeeEntry<Out> {
  currencyCode: string;
  amounts: bigint[];
  /** Rows that took these lines, for the totals (settled when the class is dropped, and at the end). */
  rows: number;
  out: Out;
}

/** Rows alike for the rule: one service, zone, billing day and suspended pieces; their units counted once. */
export interface RowClass<Out> {
  service: string;
  periods: PeriodUnits[];
  fees: Map<number, FeeEntry<Out>[]>;
}

/** A zone met in the snapshot: its tz database name and its clock. */
interface ZoneEntry {
  zone: string;
  clock: ZonedClock;
}

function sameBytes(a: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== bytes[start + i]) return false;
  return true;
}

const bytesOf = (text: string) => new TextEncoder().encode(text);

/** Duplicates as found from the confirmed ids alone (the suspects only ever narrow them): for a range, a batch. */
export function duplicatesOf(ids: readonly string[]): Duplicates {
  const set = new CompactStringSet(Math.max(16, ids.length));
  const suspects = new FingerprintTable(Math.max(16, ids.length));
  const fingerprint = new Fingerprint();
  for (const id of ids) {
    set.add(id);
    suspects.add(fingerprint.ofString(id));
  }
  return { suspects, ids: set };
}

/** Whether a subscription id is one of the duplicates, as the reference judgement asks (`judgeRecord`). */
export function isDuplicateId(duplicates: Duplicates, id: string): boolean {
  return duplicates.ids.size > 0 && duplicates.ids.has(id);
}

/**
 * The byte path's judgement of a plain line (see SnapshotScanner), shared by the fast engine (`hiwari compute`) and
 * the pipeline's compute step: `accept` takes a row only when it passes every check of `validateRow`, and then
 * says, without a string or a date object, where its ids are, its fee, currency and active range, and its class
 * (service, zone, billing day and suspended pieces: a handful for a million rows), whose lines per fee and
 * currency are computed once (`entryOf`). Any fault, or any doubt, and `accept` returns false having decided
 * nothing: the caller hands the row to the reference judgement (`judgeRecord`), so every reject is the reference
 * engine's own. See "One judgement of a row" at the top of fast-engine.ts for how the two are held together.
 *
 * `render` makes a (class, fee, currency)'s lines into what the caller writes per row (kept in `FeeEntry.out`).
 */
export class PlainRows<Out> {
  // What `accept` found of the last row it took (fields of the instance: the hot path makes no object a row).
  idStart = 0;
  idEnd = 0;
  subStart = 0;
  subEnd = 0;
  fee = 0;
  currency = "";
  activeFrom = 0;
  activeTo = 0;
  /** The index of the row's service among the incident's, or -1 for a service no window names (skipped). */
  service = -1;
  /** The row's class; undefined when it is skipped or its active range misses its windows (nothing suspended). */
  rowClass: RowClass<Out> | undefined;
  /** The cells a goodwill `where` looks at (contract v2), only when goodwill has one. */
  cells: Map<string, string> | undefined;

  private header!: SubscriptionHeader;
  /** Field positions in the contract's order: id, subscriber, service, fee, currency, from, to, zone, day. */
  private readonly at = new Int32Array(9);
  private readonly services: { code: Uint8Array; name: string; windows: Interval[]; scoped: boolean }[] = [];
  /**
   * The sets of merged windows rows are computed against, a row's class being one of them: first one per service
   * (all its windows), then, for a service whose windows have a `where` (contract v2), one per set of windows a
   * row matches, found by the reference engine's own `windowsOf` (whose memo makes each set one array).
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
  private readonly whole = new Map<number, RowClass<Out>>();
  private partial = new Map<string, RowClass<Out>>();
  private readonly fingerprint = new Fingerprint();
  private readonly date = { day: Number.NaN };
  /** Lines per (class, fee, currency) held now, across all classes. */
  private feeEntries = 0;

  /**
   * `calculator`: the reference engine's (its memo of units and of scoped windows is shared). `totals`, when
   * given, receives each class's rows per fee when its entries are forgotten and at `settleAll`.
   */
  constructor(
    readonly incident: Incident,
    private readonly calculator: SubscriptionCalculator,
    private readonly duplicates: Duplicates,
    private readonly render: (c: RowClass<Out>, currency: string, amounts: readonly bigint[]) => Out,
    private readonly totals?: ServiceTotals,
  ) {
    for (const [name, windows] of incident.windows) {
      this.services.push({ code: bytesOf(name), name, windows, scoped: incident.scopedWindows.has(name) });
      this.windowSets.push({ name, windows });
    }
  }

  /** The header is known. */
  begin(header: SubscriptionHeader): void {
    this.header = header;
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
  }

  /**
   * Takes a plain line whose fields all pass: sets the fields above and returns true; returns false (having
   * decided nothing) otherwise. `cuts` as the scanner hands them: field k is `bytes[cuts[k] + 1 … cuts[k + 1])`.
   */
  accept(bytes: Uint8Array, cuts: Int32Array): boolean {
    const at = this.at;
    // Field c of the contract's order spans cuts[at[c]] + 1 … cuts[at[c] + 1].
    const idStart = (cuts[at[0] as number] as number) + 1;
    const idEnd = cuts[(at[0] as number) + 1] as number;
    const subStart = (cuts[at[1] as number] as number) + 1;
    const subEnd = cuts[(at[1] as number) + 1] as number;
    const svcStart = (cuts[at[2] as number] as number) + 1;
    const svcEnd = cuts[(at[2] as number) + 1] as number;
    if (this.duplicates.ids.size > 0 && this.isDuplicate(bytes, idStart, idEnd)) return false;
    if (idEnd === idStart || idEnd - idStart > MAX_ID_CHARS) return false;
    if (subEnd === subStart || subEnd - subStart > MAX_ID_CHARS) return false;
    if (svcEnd === svcStart || svcEnd - svcStart > MAX_ID_CHARS) return false;

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

    // Taken: nothing below refuses the row.
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
    this.idStart = idStart;
    this.idEnd = idEnd;
    this.subStart = subStart;
    this.subEnd = subEnd;
    this.fee = fee;
    this.currency = currency;
    this.activeFrom = activeFrom;
    this.activeTo = activeTo;
    this.service = service;
    this.cells = cells;
    this.rowClass = service < 0 ? undefined : this.classOf(windowSet, zone, billingDay, activeFrom, activeTo);
    return true;
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
    const windows = this.calculator.windowsOf({ serviceCode: name, cells }) as Interval[];
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
  private classOf(
    service: number,
    zone: number,
    billingDay: number,
    from: number,
    to: number,
  ): RowClass<Out> | undefined {
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

  private newClass(service: string, zone: string, billingDay: number, pieces: readonly Interval[]): RowClass<Out> {
    const periods = this.calculator.unitsFor({ zone, billingDay }, pieces);
    return { service, periods, fees: new Map() };
  }

  /**
   * Counts the row `accept` last took, as `judgeAndCompute` counts a record it judged valid: computed, or skipped
   * when no window names its service.
   */
  countTaken(counts: RowCounts): void {
    counts.rows++;
    if (this.service < 0) counts.skipped++;
    else counts.computed++;
  }

  /** The lines a row of class `c` with `fee` and `currency` owes: one per billing period, amounts computed once. */
  entryOf(c: RowClass<Out>, fee: number, currency: string): FeeEntry<Out> {
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
    const entry: FeeEntry<Out> = { currencyCode: currency, amounts, rows: 0, out: this.render(c, currency, amounts) };
    list.push(entry);
    return entry;
  }

  /**
   * Settles every class and forgets its lines per fee, so that memory stays bounded however many different fees
   * the snapshot holds (a fee met again is simply rendered again).
   */
  private forgetFees(): void {
    this.settleAll();
    for (const classes of [this.whole.values(), this.partial.values()]) for (const c of classes) c.fees.clear();
    this.feeEntries = 0;
  }

  /** Adds every class's rows not yet counted to the totals (at the end of a run). */
  settleAll(): void {
    for (const classes of [this.whole.values(), this.partial.values()]) for (const c of classes) this.settle(c);
  }

  /** Adds a class's rows to the totals (once: its counters restart at zero). */
  private settle(c: RowClass<Out>): void {
    const totals = this.totals;
    if (!totals) return;
    for (const list of c.fees.values()) {
      for (const e of list) {
        if (e.rows === 0) continue;
        const rows = BigInt(e.rows);
        for (const amount of e.amounts) totals.add(c.service, e.currencyCode, e.rows, amount * rows);
        e.rows = 0;
      }
    }
  }
}

/** A fee of digits without sign or leading zeros, up to 15 digits, or -1 (the reference engine then judges it). */
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
