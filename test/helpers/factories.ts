import { expect } from "vitest";
import { CsvRecordReader } from "../../shared/csv/csv-record-reader";
import { Utf8ChunkDecoder } from "../../shared/csv/utf8-decoder";
import {
  type ByteRange,
  computeRefundsFast,
  inThisThread,
  type LineFormat,
  type RangeRunner,
} from "../../shared/engine/fast/fast-engine";
import {
  computeRefundsReference,
  type RecordSource,
  type RunCounts,
} from "../../shared/engine/reference/reference-engine";
import type { RefundLine } from "../../shared/engine/refund-line";
import { TextRecordSource } from "../../shared/engine/text-record-source";
import { type Incident, type IncidentInput, parseIncident } from "../../shared/input/incident";
import { type RejectedRow, SUBSCRIPTION_COLUMNS } from "../../shared/input/subscription-row";
import { csvCell, toJsonLine } from "../../shared/output/line-format";
import type { KeyedLine, StoredLine } from "../../shared/reconcile/reconcile";

/** The sp-mode window (2011-12-20 23:30 → 2011-12-22 14:00, Tokyo) on IMADOKO: `incidentDoc`'s default. */
export const SPMODE_WINDOW = {
  serviceCode: "IMADOKO",
  start: "2011-12-20T23:30:00+09:00",
  end: "2011-12-22T14:00:00+09:00",
};

/** An incident document with sensible defaults (sp-mode 2011, IMADOKO, calendar-day, actual, floor). */
export function incidentDoc(
  overrides: Omit<Partial<IncidentInput>, "policy"> & { policy?: Partial<IncidentInput["policy"]> } = {},
) {
  const { policy, ...rest } = overrides;
  return {
    incidentId: "test-incident",
    timeZone: "Asia/Tokyo",
    suspensions: [SPMODE_WINDOW],
    ...rest,
    policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor", ...policy },
  } as IncidentInput;
}

export type Row = Partial<Record<(typeof SUBSCRIPTION_COLUMNS)[number], string>>;

/**
 * KDDI, July 2022 (31 days), VOICE: W0 (voice-only plans) Jul 2 01:35 → Jul 4 15:00 JST; W1 (everyone) Jul 2
 * 01:35 → 12:00. Contract v2's scoped windows, as the scope tests use them.
 */
export const KDDI_VOICE_WINDOWS = [
  {
    serviceCode: "VOICE",
    start: "2022-07-02T01:35:00+09:00",
    end: "2022-07-04T15:00:00+09:00",
    where: { plan: ["voice-only"] },
  },
  { serviceCode: "VOICE", start: "2022-07-02T01:35:00+09:00", end: "2022-07-02T12:00:00+09:00" },
];

/** One subscription row with defaults: JPY 210/month, active since 2011-01-01, the incident's zone, billing day 1. */
export function row(fields: Row = {}, n = 1): Row {
  return {
    subscription_id: `C-${n}`,
    subscriber_id: `S-${n}`,
    service_code: "IMADOKO",
    monthly_fee: "210",
    currency: "JPY",
    active_from: "2011-01-01",
    active_to: "",
    time_zone: "",
    billing_day: "",
    ...fields,
  };
}

/** A CSV snapshot (header + rows, LF line ends, RFC 4180 quoting) in the contract's column order. */
export function csvOf(rows: Row[]): string {
  const lines = [SUBSCRIPTION_COLUMNS.join(",")];
  for (const r of rows) lines.push(SUBSCRIPTION_COLUMNS.map((c) => csvCell(r[c] ?? "")).join(","));
  return `${lines.join("\n")}\n`;
}

/**
 * A CSV snapshot with extra columns (contract v2's `where` looks at them): the header is `columns` in that order,
 * any mix of the nine contract columns and extra ones; a row's missing cells are empty.
 */
export function csvWithColumns(columns: readonly string[], rows: Record<string, string>[]): string {
  const lines = [columns.map(csvCell).join(",")];
  for (const r of rows) lines.push(columns.map((c) => csvCell(r[c] ?? "")).join(","));
  return `${lines.join("\n")}\n`;
}

export interface Computed {
  lines: RefundLine[];
  rejects: RejectedRow[];
  counts: RunCounts;
}

/** Runs the reference engine (record by record) on an incident and CSV text, collecting everything it emits. */
export async function runReference(incident: Incident, csv: string | Uint8Array): Promise<Computed> {
  const lines: RefundLine[] = [];
  const rejects: RejectedRow[] = [];
  const source: RecordSource =
    typeof csv === "string"
      ? new TextRecordSource(csv)
      : {
          name: "subscriptions",
          async *records() {
            // As FileRecordSource reads a file: bytes decoded in chunks, marking bytes that are not UTF-8.
            const reader = new CsvRecordReader();
            const decoder = new Utf8ChunkDecoder();
            yield [...reader.push(decoder.decode(csv)), ...reader.push(decoder.end()), ...reader.end()];
          },
        };
  const counts = await computeRefundsReference(incident, source, {
    line: (l) => lines.push(l),
    reject: (r) => rejects.push(r),
  });
  return { lines, rejects, counts };
}

/**
 * The fast engine's output over the same text as bytes, cut into chunks of `chunkBytes`; with `rangeBytes`, its
 * threaded path (the second pass in ranges of about that many bytes, joined in order), its two runners in this
 * thread; `ranges` counts the ranges they computed (0: the run fell back to one thread). With `rewindable`, the
 * sink can forget its lines (as a file can), so the engine computes them in the pass that looks for duplicate ids;
 * `rewinds` counts how often it started them again, `reads` how often it began reading the file. With `writeLimit`,
 * a write that would take the lines past that many bytes throws, as a full disk does.
 */
export async function runFast(
  incident: Incident,
  csv: string | Uint8Array,
  options: {
    chunkBytes?: number;
    format?: LineFormat;
    rangeBytes?: number;
    rewindable?: boolean;
    writeLimit?: number;
  } = {},
): Promise<{
  text: string;
  rejects: RejectedRow[];
  counts: RunCounts;
  ranges: number;
  rewinds: number;
  reads: number;
}> {
  const bytes = typeof csv === "string" ? new TextEncoder().encode(csv) : csv;
  const chunkBytes = options.chunkBytes ?? 1 << 16;
  const out: Uint8Array[] = [];
  const rejects: RejectedRow[] = [];
  let rewinds = 0;
  let reads = 0;
  const source = {
    name: "subscriptions",
    size: bytes.length,
    async *chunks() {
      reads++;
      for (let at = 0; at < bytes.length; at += chunkBytes) yield bytes.slice(at, at + chunkBytes);
    },
  };
  const format = options.format ?? toJsonLine;
  let ranges = 0;
  const chunksOf = function* (range: ByteRange) {
    const end = Math.min(range.end, bytes.length);
    for (let at = range.start; at < end; at += chunkBytes) yield bytes.slice(at, Math.min(at + chunkBytes, end));
  };
  const parallel =
    options.rangeBytes === undefined
      ? undefined
      : {
          runners: [1, 2].map((): RangeRunner => {
            const runner = inThisThread(incident, format, source.name, chunksOf);
            return {
              ids: (job) => runner.ids(job),
              run: (...args) => {
                ranges++;
                return runner.run(...args);
              },
            };
          }),
          rangeBytes: options.rangeBytes,
        };
  let written = 0;
  const rewind = () => {
    rewinds++;
    out.length = 0;
    written = 0;
  };
  const write = (b: Uint8Array) => {
    written += b.length;
    if (options.writeLimit !== undefined && written > options.writeLimit) throw new Error("EFBIG: the sink's limit");
    out.push(b.slice());
  };
  const counts = await computeRefundsFast(
    incident,
    source,
    {
      write,
      reject: (r) => rejects.push(r),
      rewind: options.rewindable ? rewind : undefined,
    },
    { format, parallel },
  );
  return { text: Buffer.concat(out).toString("utf8"), rejects, counts, ranges, rewinds, reads };
}

/**
 * Runs both engines on an incident document and CSV text, checks that the fast one wrote exactly the reference one's
 * lines (as JSON lines, byte for byte), rejects and counts, and returns what the reference one emitted. Every engine
 * test goes through here, so each holds for both.
 */
export async function run(incident: unknown, csv: string): Promise<Computed> {
  const parsed = parseIncident(incident);
  const reference = await runReference(parsed, csv);
  // The single-thread path in two passes (to a pipe) and in one (to a file, which it may rewind), and the threaded
  // one in about six ranges.
  const size = Buffer.byteLength(csv);
  const variants = [{}, { rewindable: true }, { rangeBytes: Math.max(1, Math.floor(size / 6)) }];
  for (const { rangeBytes, rewindable } of variants as { rangeBytes?: number; rewindable?: boolean }[]) {
    const fast = await runFast(parsed, csv, { rangeBytes, rewindable });
    expect(fast.text).toBe(reference.lines.map(toJsonLine).join(""));
    expect(fast.rejects).toEqual(reference.rejects);
    expect(fast.counts).toEqual(reference.counts);
    // The threaded path ran, in several ranges, wherever it can cut the snapshot: past its header, before any quote.
    if (rangeBytes !== undefined && severalRanges(csv)) expect(fast.ranges).toBeGreaterThan(1);
  }
  return reference;
}

/**
 * Whether the threaded path cuts `csv` into several ranges of a sixth of its size: a one-line header, then at least
 * three rows (the header may be longer than a range), all of printable ASCII but the quote (else the first pass may
 * read the file exactly, on one thread, and past a quote the rest is one range).
 */
function severalRanges(csv: string): boolean {
  return /^[\x20\x21\x23-\x7e\n]*$/.test(csv) && csv.split("\n").filter((l) => l !== "").length >= 4;
}

/** The lines of one subscription, without the goodwill ones, as compact tuples for exact assertions. */
export function summary(lines: RefundLine[]) {
  return lines
    .filter((l) => l.unit !== "goodwill")
    .map((l) => ({
      sub: l.subscriptionId,
      period: `${l.periodStart}..${l.periodEnd}`,
      units: l.units,
      basis: l.basis,
      amount: Number(l.amount),
    }));
}

/** A computed line of subscription `id` in incident `inc` (December 2011, 3 days of 31), with overrides. */
export function keyedLine(id: string, amount: bigint, extra: Partial<KeyedLine> = {}): KeyedLine {
  return {
    lineId: `inc#S#${id}#2011-12-01`,
    subscriptionId: id,
    subscriberId: "S-1",
    serviceCode: "IMADOKO",
    periodStart: "2011-12-01",
    periodEnd: "2012-01-01",
    unit: "day",
    units: 3,
    basis: 31,
    amount,
    currency: "JPY",
    ...extra,
  };
}

/** The same line as stored, at a version and status. */
export function storedLine(
  line: KeyedLine,
  version = 1,
  status: StoredLine["status"] = "active",
  runId = "r0",
): StoredLine {
  return { ...line, version, status, runId };
}
