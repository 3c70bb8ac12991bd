import type { CsvRecord } from "../csv/csv-record-reader";
import { holdsInvalidUtf8 } from "../csv/utf8-decoder";
import { isCurrencyCode } from "../money/currency";
import { resolveTimeZone } from "../time/time-zone";
import { parseTimestamp, type Timestamp } from "../time/timestamp";
import { zonedClock } from "../time/zoned-clock";

/** The nine columns of a subscriptions snapshot, in the contract's order. */
export const SUBSCRIPTION_COLUMNS = [
  "subscription_id",
  "subscriber_id",
  "service_code",
  "monthly_fee",
  "currency",
  "active_from",
  "active_to",
  "time_zone",
  "billing_day",
] as const;
export type SubscriptionColumn = (typeof SUBSCRIPTION_COLUMNS)[number];

/** Where each of the nine columns stands in the file's header, and how many fields a record must have. */
export interface SubscriptionHeader {
  index: Record<SubscriptionColumn, number>;
  width: number;
  names: readonly string[];
  /** Where each extra column an incident's `where` names stands (contract v2); absent when none is named. */
  whereAt?: ReadonlyMap<string, number>;
}

/** A valid subscription row, ready for the engine. */
export interface SubscriptionRow {
  line: number;
  subscriptionId: string;
  subscriberId: string;
  serviceCode: string;
  monthlyFee: bigint;
  currency: string;
  /** `[activeFrom, activeTo)` in epoch seconds; activeTo is Infinity while still active. */
  activeFrom: number;
  activeTo: number;
  /** tz database name of the row's zone (the incident's when the column is empty). */
  zone: string;
  billingDay: number;
  /** The cells of the extra columns the incident's `where`s name (as written); absent when none is named. */
  cells?: ReadonlyMap<string, string>;
}

/** A bad row, as the contract reports it. */
export interface RejectedRow {
  line: number;
  subscriptionId: string | null;
  field: string | null;
  reason: string;
}

export type HeaderResult = { ok: true; header: SubscriptionHeader } | { ok: false; reason: string };

/** Reads the header record: the nine columns in any order, extra columns ignored, none twice. */
export function readHeader(fields: readonly string[]): HeaderResult {
  const index = {} as Record<SubscriptionColumn, number>;
  const missing: string[] = [];
  for (const column of SUBSCRIPTION_COLUMNS) {
    const at = fields.indexOf(column);
    if (at === -1) missing.push(column);
    else if (fields.indexOf(column, at + 1) !== -1) return { ok: false, reason: `column ${column} appears twice` };
    else index[column] = at;
  }
  if (missing.length > 0) {
    return { ok: false, reason: `the header lacks the column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}` };
  }
  return { ok: true, header: { index, width: fields.length, names: fields } };
}

export type RowResult = { ok: true; row: SubscriptionRow } | { ok: false; reject: RejectedRow };

/** The longest id (subscription, subscriber, service), in characters; the fast engine takes only ASCII ids up to it. */
export const MAX_ID_CHARS = 128;
const FEE = /^(0|[1-9][0-9]*)$/;
const BILLING_DAY = /^([1-9]|[12][0-9]|3[01])$/;

/** A value as quoted in a message: JSON-escaped, and cut short when long. */
export function shown(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

function codePoints(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

function checkId(value: string): string | undefined {
  if (value === "") return "must not be empty";
  if (value.length > MAX_ID_CHARS && codePoints(value) > MAX_ID_CHARS)
    return `must be at most ${MAX_ID_CHARS} characters`;
  return undefined;
}

/**
 * Validates one record of the right width: the one judgement of a row, for both engines. The fast engine's byte
 * checks (shared/engine/fast/fast-engine.ts, "One judgement of a row") only choose which rows it may compute without
 * asking this; any row they doubt comes here, and property tests hold the two engines to the same rejects.
 * `duplicate` says its subscription_id occurs more than once in the file (found by the caller's first pass): such a
 * row is bad whatever else is true of it.
 * Fields are checked in the contract's column order and the first fault is reported; the cross-field check
 * (active_to later than active_from) comes last, once the zone is known.
 */
export function validateRow(
  record: CsvRecord,
  header: SubscriptionHeader,
  defaultZone: string,
  duplicate: boolean,
): RowResult {
  const f = record.fields;
  const value = (c: SubscriptionColumn) => f[header.index[c]] as string;
  const rawId = value("subscription_id");
  const bad = (field: SubscriptionColumn | null, reason: string): RowResult => ({
    ok: false,
    reject: { line: record.line, subscriptionId: rawId === "" ? null : rawId, field, reason },
  });

  if (duplicate) return bad("subscription_id", `${shown(rawId)} occurs more than once in the file`);
  for (const c of SUBSCRIPTION_COLUMNS) {
    if (holdsInvalidUtf8(value(c))) return bad(c, "is not valid UTF-8");
  }
  for (const c of ["subscription_id", "subscriber_id", "service_code"] as const) {
    const why = checkId(value(c));
    if (why) return bad(c, why);
  }
  const fee = value("monthly_fee");
  if (!FEE.test(fee)) {
    return bad(
      "monthly_fee",
      `must be a non-negative integer in minor units, digits only without sign or leading zeros (got ${shown(fee)})`,
    );
  }
  const currency = value("currency");
  if (!/^[A-Z]{3}$/.test(currency))
    return bad("currency", `must be an ISO 4217 code of three capital letters (got ${shown(currency)})`);
  if (!isCurrencyCode(currency)) return bad("currency", `${shown(currency)} is not an ISO 4217 currency`);

  const from = parseTimestamp(value("active_from"));
  if (!from.ok) return bad("active_from", `${from.reason} (got ${shown(value("active_from"))})`);
  const toText = value("active_to");
  const to = toText === "" ? undefined : parseTimestamp(toText);
  if (to && !to.ok) return bad("active_to", `${to.reason} (got ${shown(toText)})`);

  const zoneText = value("time_zone");
  const zone = zoneText === "" ? defaultZone : resolveTimeZone(zoneText);
  if (zone === undefined) return bad("time_zone", `${shown(zoneText)} is not a time zone of the tz database (IANA)`);

  const dayText = value("billing_day");
  if (dayText !== "" && !BILLING_DAY.test(dayText)) {
    return bad(
      "billing_day",
      `must be a whole number from 1 to 31 without leading zeros, or empty for 1 (got ${shown(dayText)})`,
    );
  }

  const clock = zonedClock(zone);
  const at = (t: Timestamp) => (t.kind === "instant" ? t.epochSeconds : clock.startOfDay(t.day));
  const activeFrom = at(from.value);
  const activeTo = to?.ok ? at(to.value) : Number.POSITIVE_INFINITY;
  if (activeTo <= activeFrom) return bad("active_to", "must be later than active_from");

  const row: SubscriptionRow = {
    line: record.line,
    subscriptionId: rawId,
    subscriberId: value("subscriber_id"),
    serviceCode: value("service_code"),
    monthlyFee: BigInt(fee),
    currency,
    activeFrom,
    activeTo,
    zone,
    billingDay: dayText === "" ? 1 : Number(dayText),
  };
  if (header.whereAt) row.cells = cellsOf(f, header.whereAt);
  return { ok: true, row };
}

/** The cells of the columns a `where` names, from a record's fields. */
function cellsOf(fields: readonly string[], whereAt: ReadonlyMap<string, number>): ReadonlyMap<string, string> {
  const cells = new Map<string, string>();
  for (const [column, at] of whereAt) cells.set(column, fields[at] as string);
  return cells;
}

/** The reject for a record that breaks the quoting rules or has the wrong number of fields; undefined if neither. */
export function checkShape(record: CsvRecord, header: SubscriptionHeader): RejectedRow | undefined {
  const idAt = header.index.subscription_id;
  const id = record.fields[idAt];
  const subscriptionId = id === undefined || id === "" ? null : id;
  if (record.error) {
    const name = header.names[record.error.fieldIndex];
    const field = name !== undefined && (SUBSCRIPTION_COLUMNS as readonly string[]).includes(name) ? name : null;
    return {
      line: record.line,
      subscriptionId: record.error.fieldIndex === idAt ? null : subscriptionId,
      field,
      reason: record.error.reason,
    };
  }
  if (record.fields.length !== header.width) {
    return {
      line: record.line,
      subscriptionId,
      field: null,
      reason: `has ${record.fields.length} field${record.fields.length === 1 ? "" : "s"}, the header has ${header.width}`,
    };
  }
  return undefined;
}

/**
 * Judges one record after the header: its shape (quoting, field count), then its values. `isDuplicate` says
 * whether a subscription id occurs more than once in the whole snapshot (found by a first pass).
 */
export function judgeRecord(
  record: CsvRecord,
  header: SubscriptionHeader,
  defaultZone: string,
  isDuplicate: (id: string) => boolean,
): RowResult {
  const shapeFault = checkShape(record, header);
  if (shapeFault) return { ok: false, reject: shapeFault };
  return validateRow(record, header, defaultZone, isDuplicate(record.fields[header.index.subscription_id] as string));
}
