import type { RefundLine } from "../engine/refund-line";

/** A line as stored: its values, its version (1 for the first), whether it still stands, and its last change. */
export interface StoredLine extends RefundLine {
  lineId: string;
  version: number;
  status: "active" | "voided";
  /** The run of its last change. */
  runId: string;
  /** What its last change was (absent on lines stored before it was kept). */
  change?: ChangeKind;
}

/** A computed line with its identity. */
export interface KeyedLine extends RefundLine {
  lineId: string;
}

export type ChangeKind = "calculated" | "adjusted" | "voided";

/**
 * One change to write: the line as it will be stored (version already bumped), and what it was before.
 * `calculated`: a line that did not stand before (new, or voided earlier); `adjusted`: a standing line whose
 * fields changed; `voided`: a standing line no longer produced (stored with amount 0).
 */
export interface LineChange {
  kind: ChangeKind;
  next: StoredLine;
  previous: StoredLine | undefined;
}

export interface Reconciliation {
  changes: LineChange[];
  unchanged: number;
  /**
   * This run's own changes, found already stored (written before it was interrupted and resumed): not written
   * again, and counted as what they were, so that a resumed run counts exactly what an uninterrupted one would.
   */
  already: ChangeKind[];
}

/** The fields whose difference makes a line change (identity fields are equal by construction). */
const COMPARED = ["subscriberId", "serviceCode", "periodEnd", "unit", "units", "basis", "amount", "currency"] as const;

export function sameValues(a: RefundLine, b: RefundLine): boolean {
  return COMPARED.every((f) => a[f] === b[f]);
}

/**
 * Reconciles the lines a run computed with the lines stored for the same scope (the same subscriptions, or the
 * same subscribers for goodwill): pure, no store. A standing line in `stored` that `computed` lacks is voided;
 * so the caller must pass exactly the stored lines of the scope it computed.
 * NOTE: delta of a change = next.amount − (previous standing amount, or 0); the deltas of a line sum to what
 * is owed now.
 */
export function reconcile(
  stored: readonly StoredLine[],
  computed: readonly KeyedLine[],
  runId: string,
): Reconciliation {
  const byId = new Map(stored.map((s) => [s.lineId, s]));
  const changes: LineChange[] = [];
  let unchanged = 0;
  const already: ChangeKind[] = [];
  const mine = (line: StoredLine) => line.runId === runId && line.change !== undefined;
  // The ids met, to find the stored lines no longer computed: none to find when nothing is stored (a first run).
  const seen = new Set<string>();
  const track = stored.length > 0;
  for (const line of computed) {
    if (track) seen.add(line.lineId);
    const previous = byId.get(line.lineId);
    const standing = previous?.status === "active";
    if (standing && sameValues(previous, line)) {
      if (mine(previous)) already.push(previous.change as ChangeKind);
      else unchanged++;
      continue;
    }
    const kind = standing ? "adjusted" : "calculated";
    changes.push({ kind, next: activeOf(line, (previous?.version ?? 0) + 1, runId, kind), previous });
  }
  for (const previous of stored) {
    if (seen.has(previous.lineId)) continue;
    if (previous.status === "active") changes.push({ kind: "voided", next: voidOf(previous, runId), previous });
    else if (mine(previous) && previous.change === "voided") already.push("voided");
  }
  return { changes, unchanged, already };
}

/**
 * A computed line as it will stand: its fields named one by one, not spread (a first run makes one per line, and
 * a spread of a line is several times slower).
 */
function activeOf(line: KeyedLine, version: number, runId: string, change: ChangeKind): StoredLine {
  return {
    subscriptionId: line.subscriptionId,
    subscriberId: line.subscriberId,
    serviceCode: line.serviceCode,
    periodStart: line.periodStart,
    periodEnd: line.periodEnd,
    unit: line.unit,
    units: line.units,
    basis: line.basis,
    amount: line.amount,
    currency: line.currency,
    lineId: line.lineId,
    version,
    status: "active",
    runId,
    change,
  };
}

/** Whether this run created the stored line (its version 1 is the run's): a retried or resumed step reads it back. */
export function createdBy(line: StoredLine, runId: string): boolean {
  return line.version === 1 && line.runId === runId;
}

/**
 * Counts, for the count of stored lines (`RunRecord.stored`), the lines a step read as stored and the changes it made
 * from them: each stored line as `found` (it stood before the run) or, if this run created it, `created`; each
 * change to a line not stored before as `created`.
 */
export function countStored(
  stored: readonly StoredLine[],
  changes: readonly LineChange[],
  runId: string,
  count: (line: KeyedLine, as: "found" | "created") => void,
): void {
  for (const line of stored) count(line, createdBy(line, runId) ? "created" : "found");
  for (const c of changes) if (c.previous === undefined) count(c.next, "created");
}

/** The voided form of a standing line: same identity and values, amount 0, next version. */
export function voidOf(line: StoredLine, runId: string): StoredLine {
  return { ...line, amount: 0n, version: line.version + 1, status: "voided", runId, change: "voided" };
}

/** The amount a change moves: what is owed after it minus what was owed before. */
export function deltaOf(change: LineChange): bigint {
  const before = change.previous?.status === "active" ? change.previous.amount : 0n;
  return change.next.amount - before;
}
