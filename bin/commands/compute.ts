import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { CompactStringSetFullError } from "../../shared/collections/compact-string-set";
import { computeRefundsFast } from "../../shared/engine/fast/fast-engine";
import { computeRefundsReference, type RunCounts } from "../../shared/engine/reference/reference-engine";
import { UnusableSnapshotError } from "../../shared/engine/snapshot-header";
import {
  checkIncidentSize,
  type Incident,
  IncidentError,
  MAX_INCIDENT_BYTES,
  parseIncidentText,
} from "../../shared/input/incident";
import type { RejectedRow } from "../../shared/input/subscription-row";
import { CSV_HEADER, toCsvRow, toJsonLine } from "../../shared/output/line-format";
import { n, totalRow } from "../format";
import { AtomicFileWriter } from "../io/atomic-file-writer";
import { FileByteSource } from "../io/file-byte-source";
import { FileRecordSource } from "../io/file-record-source";
import { StreamTextWriter } from "../io/stream-text-writer";
import { cannotWrite, EXIT, UsageError } from "../usage-error";
import { rangeBytes, startWorkers, workerCount } from "./compute-threads";

export interface ComputeOptions {
  incident: string;
  subscriptions: string;
  format: "jsonl" | "csv";
  out?: string;
  rejects?: string;
  summary?: boolean;
  /**
   * fast (the default): the byte engine (shared/engine/fast/); reference: record by record, the engine the fast one
   * is tested against (shared/engine/reference/); plain is its former name, still accepted.
   */
  engine?: "fast" | "reference" | "plain";
}

/**
 * The incident file's bytes; a UsageError names the file when it cannot be read or is larger than an incident may
 * be. Its size is checked before it is read, and again as it is read (a pipe has no size, a file may grow), so no
 * more than the limit and one buffer is ever held.
 */
function readIncidentBytes(path: string): Buffer {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    checkIncidentSize(fstatSync(fd).size);
    const buffer = Buffer.allocUnsafe(MAX_INCIDENT_BYTES + 1);
    let read = 0;
    for (;;) {
      const n = readSync(fd, buffer, read, buffer.length - read, null);
      if (n === 0) break;
      read += n;
      checkIncidentSize(read); // the buffer is one byte longer than the limit: a full one is too much
    }
    return Buffer.from(buffer.subarray(0, read));
  } catch (e) {
    if (e instanceof IncidentError) throw new UsageError(`${path}: ${e.problems.join(`\n${path}: `)}`, { cause: e });
    throw new UsageError(
      `${path}: cannot read the incident: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { cause: e },
    );
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const textOf = (bytes: Buffer) => bytes.toString("utf8").replace(/^\uFEFF/, "");

/** The incident file's text, without a byte-order mark (not validated: the caller does). */
export function readIncidentText(path: string): string {
  return textOf(readIncidentBytes(path));
}

/**
 * Reads the incident file once: its bytes (what a run digests), its text without a byte-order mark, and the
 * incident validated; a UsageError names the file and every faulty field.
 */
export function readIncidentFile(path: string): { bytes: Buffer; text: string; incident: Incident } {
  const bytes = readIncidentBytes(path);
  const text = textOf(bytes);
  try {
    return { bytes, text, incident: parseIncidentText(text) };
  } catch (e) {
    if (e instanceof IncidentError) throw new UsageError(`${path}: ${e.problems.join(`\n${path}: `)}`, { cause: e });
    throw e;
  }
}

/** Reads and validates the incident file. */
export function loadIncident(path: string): Incident {
  return readIncidentFile(path).incident;
}

/** Checks that the subscriptions can be read (opened, and a first byte read), before anything is written. */
export function checkReadable(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    readSync(fd, Buffer.alloc(1), 0, 1, 0); // a folder opens, and fails here (EISDIR)
  } catch (e) {
    throw new UsageError(
      `${path}: cannot read the subscriptions: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { cause: e },
    );
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A file for --out or --rejects, created now under a temporary name beside it (moved into place only when the
 * run succeeds), so that a path that cannot be written stops the command before any work, naming the option.
 */
export function fileWriter(path: string, option: string): AtomicFileWriter {
  const writer = new AtomicFileWriter(path);
  try {
    writer.begin();
  } catch (e) {
    throw (
      cannotWrite(option, path, e) ??
      new UsageError(`${option} ${path}: cannot write there (${(e as Error).message})`, { cause: e })
    );
  }
  return writer;
}

/** `hiwari compute`: pure, no database, no network. Returns the exit status (0 all accepted, 3 rows rejected). */
export async function compute(options: ComputeOptions): Promise<number> {
  // The second pass on worker threads, for a snapshot large enough (see compute-threads.ts): started first, so that
  // they load while the incident is read and the first pass begins; ended however the command ends.
  const threads = startThreads(options);
  try {
    return await computeWith(options, threads);
  } finally {
    await threads?.close();
  }
}

/** Whether `--engine` names the reference engine (`plain` is its former name). */
const isReference = (engine: ComputeOptions["engine"]) => engine === "reference" || engine === "plain";

function startThreads(options: ComputeOptions): ReturnType<typeof startWorkers> | undefined {
  if (isReference(options.engine)) return undefined;
  let size: number;
  try {
    size = statSync(options.subscriptions).size;
  } catch {
    return undefined; // checkReadable names the problem
  }
  const workers = workerCount(size);
  return workers > 0 ? startWorkers(workers, options.subscriptions, options.format) : undefined;
}

async function computeWith(options: ComputeOptions, threads: ReturnType<typeof startWorkers> | undefined) {
  const incident = loadIncident(options.incident);
  checkReadable(options.subscriptions);
  if (options.out && options.rejects && resolve(options.out) === resolve(options.rejects)) {
    throw new UsageError(`--out and --rejects name the same file (${options.out}): give each its own`);
  }
  const file = options.out ? fileWriter(options.out, "--out") : undefined;
  const out = file ?? new StreamTextWriter(process.stdout);
  let rejects: AtomicFileWriter | StreamTextWriter;
  try {
    rejects = options.rejects ? fileWriter(options.rejects, "--rejects") : new StreamTextWriter(process.stderr);
  } catch (e) {
    out.abort();
    throw e;
  }
  const progress = process.stderr.isTTY
    ? (rows: number) => process.stderr.write(`\rhiwari compute: ${rows.toLocaleString("en-US")} rows`)
    : undefined;
  // Both formats are data, exact: the contract's values as computed, ids as given (an id such as =HYPERLINK(…) is not
  // neutralised for spreadsheets, or it would no longer be the id). `hiwari report` is the CSV for people.
  const format = options.format === "csv" ? toCsvRow : toJsonLine;
  if (options.format === "csv") out.write(CSV_HEADER);
  // A file can be started again: the fast engine then finds duplicate ids in the pass that computes the lines
  // (see `inOnePass` in fast-engine.ts); standard output cannot, and takes a pass for the ids first.
  let rewinds = 0;
  const rewind =
    file &&
    (() => {
      rewinds++;
      file.rewind();
      if (options.format === "csv") file.write(CSV_HEADER);
    });
  const source = new FileByteSource(options.subscriptions);

  const reject = (r: RejectedRow) => rejects.write(`${JSON.stringify(r)}\n`);
  const drain = async () => {
    await out.drain();
    await rejects.drain();
  };
  let counts: RunCounts;
  try {
    counts = isReference(options.engine)
      ? await computeRefundsReference(
          incident,
          new FileRecordSource(options.subscriptions),
          { line: (line) => out.write(format(line)), reject, drain },
          progress,
        )
      : await computeRefundsFast(
          incident,
          source,
          { write: (bytes) => out.writeBytes(bytes), reject, drain, rewind },
          {
            format,
            onProgress: progress,
            parallel: threads && { runners: threads.runners(incident), rangeBytes: rangeBytes() },
          },
        );
    // What shows that the worker threads did the work (the tests ask for it): how many ranges they computed.
    if (threads && process.env.HIWARI_DEBUG_THREADS) {
      process.stderr.write(`hiwari compute: ${threads.ranges()} ranges on ${threads.count} worker threads\n`);
    }
    // Both files are finished (the step that can fail) before either is moved into place.
    await out.finish();
    await rejects.finish();
    out.publish();
    rejects.publish();
    // And how often the fast engine read the snapshot (from its start; a worker's ranges not counted) and started
    // its lines again (see `inOnePass` in fast-engine.ts): after the rejects, which may go to stderr too.
    if (process.env.HIWARI_DEBUG_READS) {
      process.stderr.write(
        `hiwari compute: read the snapshot ${source.reads} times, lines started again ${rewinds} times\n`,
      );
    }
  } catch (e) {
    out.abort();
    rejects.abort();
    if (e instanceof UnusableSnapshotError) throw new UsageError(e.message, { cause: e });
    // Ids past what one run can remember (about 107 million UUIDs): a snapshot too big for one run, not a fault.
    if (e instanceof CompactStringSetFullError)
      throw new UsageError(`${options.subscriptions}: too many distinct ids for one run to remember: ${e.message}`, {
        cause: e,
      });
    throw e;
  } finally {
    if (progress) process.stderr.write("\n");
  }
  if (options.summary) process.stderr.write(summaryText(incident, counts, options));
  return counts.rejected > 0 ? EXIT.rejected : EXIT.ok;
}

/** A short report for people: rows by outcome, lines and totals per service and currency. */
export function summaryText(incident: Incident, c: RunCounts, options: ComputeOptions): string {
  const rows = [
    `incident ${incident.incidentId}: ${incident.rule}, day basis ${incident.dayBasis}, rounding ${incident.rounding}`,
    `rows ${n(c.rows)}: computed ${n(c.computed)}, skipped ${n(c.skipped)} (service not in the incident), rejected ${n(c.rejected)}`,
    `lines ${n(c.lines)} (goodwill ${n(c.goodwillLines)})`,
  ];
  for (const t of c.totals) {
    rows.push(`  ${totalRow(t)}`);
  }
  if (options.out) rows.push(`lines written to ${options.out}`);
  if (c.rejected > 0) rows.push(`rejected rows written to ${options.rejects ?? "stderr"}`);
  return `${rows.join("\n")}\n`;
}
