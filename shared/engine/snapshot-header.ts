import type { CsvRecord } from "../csv/csv-record-reader";
import { PermanentError } from "../errors";
import type { Incident } from "../input/incident";
import { type HeaderResult, readHeader, type SubscriptionHeader } from "../input/subscription-row";
import { whereColumnsOf } from "../input/where";

// The snapshot's header, as both engines (reference/reference-engine.ts, fast/fast-engine.ts), the pipeline's steps
// and `hiwari run` check it: one definition, so a header is usable or not whichever of them reads it.

/** Thrown when the snapshot as a whole cannot be used (no header, a header without the nine columns). */
export class UnusableSnapshotError extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = "UnusableSnapshotError";
  }
}

/**
 * The header from its column names: the nine columns (`readHeader`) and, given the incident, the extra columns its
 * `where`s name (contract v2), each of which must be in the header once; the reason names the `where`'s path and
 * the column. Used on the first record (`snapshotHeader`) and by the pipeline's steps on the names prepare kept.
 */
export function headerForIncident(fields: readonly string[], incident?: Incident): HeaderResult {
  const read = readHeader(fields);
  if (!read.ok || !incident || incident.wheres.length === 0) return read;
  const columns = whereColumnsOf(fields, incident.wheres);
  return columns.ok ? { ok: true, header: { ...read.header, whereAt: columns.at } } : columns;
}

/** The snapshot's header from its first record (see `headerForIncident`); throws UnusableSnapshotError naming the file and line. */
export function snapshotHeader(name: string, record: CsvRecord, incident?: Incident): SubscriptionHeader {
  if (record.error) throw new UnusableSnapshotError(`${name}: line ${record.line}: header: ${record.error.reason}`);
  const read = headerForIncident(record.fields, incident);
  if (!read.ok) throw new UnusableSnapshotError(`${name}: line ${record.line}: ${read.reason}`);
  return read.header;
}

/** The error for a snapshot without even a header. */
export const emptySnapshot = (name: string) =>
  new UnusableSnapshotError(`${name}: the file is empty: it needs a header row`);
