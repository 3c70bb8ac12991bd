import { createHash } from "node:crypto";
import { CompactStringSet } from "../collections/compact-string-set";
import { Fingerprint, FingerprintList, type FingerprintTable } from "../collections/fingerprint-table";
import type { CsvRecord } from "../csv/csv-record-reader";
import { asciiText, plainRecord, type RowVisitor, SnapshotScanner } from "../csv/snapshot-scanner";
import { holdsInvalidUtf8 } from "../csv/utf8-decoder";
import { DuplicateIds } from "../engine/reference/reference-engine";
import { emptySnapshot, snapshotHeader } from "../engine/snapshot-header";
import { PermanentError } from "../errors";
import type { Incident } from "../input/incident";
import { checkShape, type SubscriptionHeader } from "../input/subscription-row";

/**
 * A slice of the snapshot: `rows` consecutive records, as the bytes [start, end) of the file, starting on
 * physical line `firstLine`. A batch reads exactly its slice (a ranged read on S3), so a run's batches see the
 * contract's line numbers, and the snapshot is stored once.
 */
export interface Slice {
  batchNo: number;
  firstLine: number;
  start: number;
  end: number;
  rows: number;
  /** SHA-256 of the slice's bytes (hex): a batch refuses bytes that are not the ones prepare surveyed. */
  sha256: string;
}

export interface SnapshotSurvey {
  /** The header's column names, as read (the batches rebuild the header from them). */
  headerFields: string[];
  header: SubscriptionHeader;
  /** Subscription ids that occur more than once among the rows of the right width. */
  duplicates: CompactStringSet;
  slices: Slice[];
  rows: number;
  bytes: number;
  sha256: string;
}

/** Thrown for a snapshot whose rejected rows a rerun could not keep safely (see `surveySnapshot`). */
export class UnsafeSnapshotError extends PermanentError {
  constructor(
    readonly snapshotName: string,
    readonly problems: string[],
  ) {
    super(
      `${snapshotName}: a run cannot tell whose stored lines these rows would keep; fix them and run again:\n  ${problems.join("\n  ")}`,
    );
    this.name = "UnsafeSnapshotError";
  }
}

export interface SurveyOptions {
  /** A rerun: refuse rows whose subscription is not certain (see `surveySnapshot`). */
  strict: boolean;
  /** The run's incident: the columns its `where`s name must each be in the header once (contract v2). */
  incident?: Incident;
}

/** How many unsafe rows a refusal lists (the first ones; the rest are like them). */
const UNSAFE_LISTED = 10;

/**
 * Prepare's survey of the snapshot's bytes: the header, the duplicate ids, the digest, and the cut into slices of
 * `batchSize` records at record boundaries (the byte offset of each record's first line is known from the line
 * feeds, which never occur inside a UTF-8 sequence). `chunks` streams the whole snapshot from its start each time
 * it is called: once for the survey, and a second time only when two rows' ids share a fingerprint.
 *
 * The bytes are read as the fast engine reads them (SnapshotScanner): a plain line (one line of printable ASCII, no
 * quote) is split at its commas in place and its id fingerprinted from its bytes, without a string; any other
 * record goes through the CSV reader, with the same line numbers.
 *
 * Duplicates as the fast engine finds them: the first pass keeps a 64-bit fingerprint of each valid row's
 * subscription id, not the id, and sorts them to find the fingerprints met twice (suspects); the second pass
 * counts the suspects' ids themselves, so an id is a duplicate only when the very same id occurs twice (two ids
 * sharing a fingerprint are not), and refuses (SnapshotChangedError) a snapshot whose bytes are not those of the
 * first pass (their SHA-256 differs).
 *
 * Memory held per row: 8 bytes, its id's fingerprint (a 36 M-row snapshot: 288 MB; the list grows by doubling,
 * so its capacity can be up to twice that). Besides: about 150 bytes a slice, the line offsets and bytes of the
 * slice being cut, one record's text, and in the second pass the suspects' ids alone. No string is kept per row.
 *
 * With `strict` (a rerun: the incident has stored lines), refuses (UnsafeSnapshotError) a snapshot with a row whose
 * subscription a rerun cannot be sure of: no subscription id, an unreadable or non-UTF-8 one, a row of the wrong
 * width (its columns may be shifted), a quote never closed (which swallows every later row into one), or a record
 * longer than MAX_RECORD_BYTES (its text past the limit is not kept, so nothing it holds is certain). A rejected
 * row keeps the stored lines of its subscription; with the wrong id, finalize would void refunds it cannot see.
 * On an incident's first run nothing is stored, so such rows are only rejected. The reader keeps no more than the
 * limit of any one record, so the survey's memory stays bounded too.
 */
export async function surveySnapshot(
  name: string,
  chunks: () => AsyncIterable<Uint8Array>,
  batchSize: number,
  options: SurveyOptions = { strict: true },
): Promise<SnapshotSurvey> {
  const { suspects, ...survey } = await firstPass(name, chunks(), batchSize, options);
  const duplicates =
    suspects.size > 0 ? await confirmDuplicates(name, chunks(), survey, suspects) : new CompactStringSet(0);
  return { ...survey, duplicates };
}

/** The survey but its duplicates: those ids' suspect fingerprints instead (found twice; a collision is possible). */
async function firstPass(
  name: string,
  chunks: AsyncIterable<Uint8Array>,
  batchSize: number,
  options: SurveyOptions,
): Promise<Omit<SnapshotSurvey, "duplicates"> & { suspects: FingerprintTable }> {
  const digest = createHash("sha256");
  const fingerprint = new Fingerprint();
  const fingerprints = new FingerprintList();
  const slices: Slice[] = [];
  const unsafe: string[] = [];
  let unsafeCount = 0;
  // Byte offsets of the starts of lines base, base + 1, …: only those since the current slice began.
  let base = 1;
  let starts: number[] = [0];
  let offset = 0;
  let header: SubscriptionHeader | undefined;
  let headerFields: string[] = [];
  let idAt = 0;
  let rows = 0;
  let slice: Omit<Slice, "end" | "sha256"> | undefined;
  // The bytes not yet hashed into a slice's digest, from `pendingStart` on: hashed when their slice closes.
  let sliceHash = createHash("sha256");
  const pending: Uint8Array[] = [];
  let pendingStart = 0;

  const hashUpTo = (to: number) => {
    // Feed the open slice's digest with pending bytes up to `to`; keep the rest pending for the next slice.
    while (pending.length > 0 && pendingStart < to) {
      const chunk = pending[0] as Uint8Array;
      const take = Math.min(chunk.length, to - pendingStart);
      sliceHash.update(chunk.subarray(0, take));
      if (take === chunk.length) pending.shift();
      else pending[0] = chunk.subarray(take);
      pendingStart += take;
    }
  };
  const closeSlice = (end: number) => {
    if (!slice) return;
    hashUpTo(end);
    slices.push({ ...slice, end, sha256: sliceHash.digest("hex") });
    sliceHash = createHash("sha256");
  };

  /** A row begins on `line`: counted, and a new slice opened there when the current one is full. */
  const beginRow = (line: number) => {
    rows++;
    if (!slice || slice.rows === batchSize) {
      const start = starts[line - base] as number;
      if (slice) closeSlice(start);
      else {
        hashUpTo(start); // the header's bytes belong to no slice
        sliceHash = createHash("sha256");
      }
      slice = { batchNo: slices.length + 1, firstLine: line, start, rows: 0 };
      starts = starts.slice(line - base);
      base = line;
    }
    slice.rows++;
  };
  const scanner = new SnapshotScanner({
    header: (record) => {
      header = snapshotHeader(name, record, options.incident);
      headerFields = record.fields;
      idAt = header.index.subscription_id;
      return header.width;
    },
    // A plain line has the header's width and no CSV fault: only an empty id is unsafe.
    plain: (bytes, cuts, line) => {
      beginRow(line);
      const start = (cuts[idAt] as number) + 1;
      const end = cuts[idAt + 1] as number;
      if (options.strict && end === start) note(`line ${line}: no subscription_id`);
      fingerprints.add(fingerprint.ofBytes(bytes, start, end));
    },
    record: (record) => {
      const known = header as SubscriptionHeader;
      beginRow(record.line);
      const shape = checkShape(record, known);
      if (options.strict) {
        const id = record.fields[idAt];
        if (record.error?.unclosed) note(`line ${record.line}: ${record.error.reason}, so no later row can be read`);
        else if (record.error?.tooLong)
          note(`line ${record.line}: ${record.error.reason}, so its subscription_id is not certain`);
        else if (!id) note(`line ${record.line}: no subscription_id`);
        else if (shape?.subscriptionId === null) note(`line ${record.line}: subscription_id: ${shape.reason}`);
        else if (holdsInvalidUtf8(id)) note(`line ${record.line}: subscription_id: holds bytes that are not UTF-8`);
        else if (shape) note(`line ${record.line}: ${shape.reason}, so its subscription_id may be another column's`);
      }
      if (!shape) fingerprints.add(fingerprint.ofString(record.fields[idAt] as string));
    },
  });
  const note = (problem: string) => {
    if (unsafeCount++ < UNSAFE_LISTED) unsafe.push(problem);
  };

  for await (const chunk of chunks) {
    digest.update(chunk);
    pending.push(chunk);
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) starts.push(offset + i + 1);
    offset += chunk.length;
    scanner.push(chunk);
  }
  scanner.end();
  closeSlice(offset);

  if (!header) throw emptySnapshot(name);
  if (unsafeCount > UNSAFE_LISTED) unsafe.push(`… and ${unsafeCount - UNSAFE_LISTED} more like these`);
  if (unsafe.length > 0) throw new UnsafeSnapshotError(name, unsafe);
  return {
    headerFields,
    header,
    slices,
    rows,
    bytes: offset,
    sha256: digest.digest("hex"),
    suspects: fingerprints.repeated(),
  };
}

/**
 * The second pass: the ids, among the rows the first pass fingerprinted, whose fingerprint is a suspect, counted
 * exactly (in the order their second occurrence is met, as a one-pass count would list them). Refuses bytes
 * other than the first pass's: more of them as soon as they come, different ones at the end (SHA-256).
 */
async function confirmDuplicates(
  name: string,
  chunks: AsyncIterable<Uint8Array>,
  first: { header: SubscriptionHeader; bytes: number; sha256: string },
  suspects: FingerprintTable,
): Promise<CompactStringSet> {
  const { header } = first;
  const changed = () =>
    new SnapshotChangedError(`${name}: the snapshot changed while it was surveyed: its bytes are not those first read`);
  const digest = createHash("sha256");
  const fingerprint = new Fingerprint();
  const ids = new DuplicateIds();
  const idAt = header.index.subscription_id;
  let offset = 0;
  // The header was read in the first pass; the digest says whether it is still the same.
  const scanner = new SnapshotScanner({
    header: () => header.width,
    plain: (bytes, cuts) => {
      const start = (cuts[idAt] as number) + 1;
      const end = cuts[idAt + 1] as number;
      if (suspects.has(fingerprint.ofBytes(bytes, start, end))) ids.addId(asciiText(bytes, start, end));
    },
    record: (record) => {
      if (checkShape(record, header)) return;
      const id = record.fields[idAt] as string;
      if (suspects.has(fingerprint.ofString(id))) ids.addId(id);
    },
  });
  for await (const chunk of chunks) {
    offset += chunk.length;
    if (offset > first.bytes) throw changed();
    digest.update(chunk);
    scanner.push(chunk);
  }
  scanner.end();
  if (digest.digest("hex") !== first.sha256) throw changed();
  return ids.duplicates;
}

/**
 * One slice's rows for a batch, read as the fast engine reads them (SnapshotScanner, from the slice's first line,
 * every record `width` fields wide: the header's): plain lines as bytes, other records as the CSV reader reads
 * them. Refuses bytes that are not those prepare surveyed: their SHA-256 at once, their number of rows once read.
 */
export function sliceRows(name: string, slice: Slice, bytes: Uint8Array, width: number): (visitor: RowVisitor) => void {
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== slice.sha256)
    throw new SnapshotChangedError(
      `${name}: batch ${slice.batchNo}: the bytes ${slice.start}–${slice.end} are not those the run was prepared from`,
    );
  return (visitor) => {
    let rows = 0;
    const scanner = new SnapshotScanner(
      {
        header: () => width, // never called: the scan starts after the header
        plain: (b, cuts, line) => {
          rows++;
          visitor.plain(b, cuts, line);
        },
        record: (record) => {
          rows++;
          visitor.record(record);
        },
      },
      { width, line: slice.firstLine },
    );
    scanner.push(bytes);
    scanner.end();
    if (rows !== slice.rows)
      throw new SnapshotChangedError(`${name}: batch ${slice.batchNo}: ${rows} rows where prepare found ${slice.rows}`);
  };
}

/** One slice's records, every one as the CSV reader reads it (`sliceRows`' plain lines made records). */
export function recordsOfSlice(name: string, slice: Slice, bytes: Uint8Array, width: number): CsvRecord[] {
  const records: CsvRecord[] = [];
  sliceRows(
    name,
    slice,
    bytes,
    width,
  )({
    plain: (b, cuts, line) => records.push(plainRecord(b, cuts, width, line)),
    record: (record) => records.push(record),
  });
  return records;
}

/** Thrown when a batch finds the snapshot other than prepare surveyed it (changed underneath the run). */
export class SnapshotChangedError extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotChangedError";
  }
}

const MANIFEST_COLUMNS = ["batchNo", "firstLine", "start", "end", "rows", "sha256"] as const;

/** The manifest the Distributed Map reads with its CSV item reader: one slice per row, header first. */
export function manifestCsv(slices: readonly Slice[]): string {
  const lines = [MANIFEST_COLUMNS.join(",")];
  for (const s of slices) lines.push(`${s.batchNo},${s.firstLine},${s.start},${s.end},${s.rows},${s.sha256}`);
  return `${lines.join("\n")}\n`;
}

/** A manifest row as the Map's CSV item reader hands it over (every value a string), checked. */
export function sliceOfItem(item: Record<string, unknown>): Slice {
  const whole = (key: (typeof MANIFEST_COLUMNS)[number]) => {
    const value = item[key];
    const n =
      typeof value === "number"
        ? value
        : typeof value === "string" && /^\d{1,15}$/.test(value)
          ? Number(value)
          : Number.NaN;
    if (!Number.isSafeInteger(n))
      throw new Error(`manifest item: ${key}: must be a whole number (got ${JSON.stringify(value)})`);
    return n;
  };
  const sha256 = item.sha256;
  if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256))
    throw new Error(`manifest item: sha256: must be 64 hex digits (got ${JSON.stringify(sha256)})`);
  return {
    batchNo: whole("batchNo"),
    firstLine: whole("firstLine"),
    start: whole("start"),
    end: whole("end"),
    rows: whole("rows"),
    sha256,
  };
}

/** The manifest's rows as the Map's CSV item reader hands them over: keyed by the header's columns, strings. */
export function manifestItems(text: string): Record<string, string>[] {
  const [head, ...rows] = text.split("\n").filter((l) => l !== "");
  const columns = (head ?? "").split(",");
  return rows.map((row) => {
    const values = row.split(",");
    return Object.fromEntries(columns.map((c, i) => [c, values[i] ?? ""]));
  });
}
