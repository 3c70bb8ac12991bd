import { PermanentError } from "../errors";
import type { KeyedLine, LineChange, StoredLine } from "../reconcile/reconcile";

/** Number of shards an incident's lines are spread over in the per-incident index (see docs/data-model.md). */
export const SHARDS = 64;

/** The shard of a line group (a subscription's or a subscriber's lines): FNV-1a of the key, modulo SHARDS. */
export function shardOf(group: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < group.length; i++) h = Math.imul(h ^ group.charCodeAt(i), 0x01000193);
  return (h >>> 0) % SHARDS;
}

/** What one batch saw, per shard: the ids finalize needs to find voids without holding a whole snapshot. */
export interface ShardBook {
  /** Ids of the lines this run produced: a standing line of the incident not among them is voided by finalize. */
  produced: string[];
  /** Line groups of subscriptions with a rejected row: they keep their stored lines. */
  kept: string[];
  /** Goodwill groups of subscribers with a non-empty suspension in a valid row. */
  eligible: string[];
  /** Goodwill groups of subscribers with a rejected row: their goodwill is kept, not voided. */
  protected: string[];
  /**
   * The shard's lines this batch read as stored (any status) but for those this run created itself (version 1 of
   * this run: a retried or resumed batch reads its own earlier writes): with the goodwill finalize reads, they tell
   * whether any other line stands in the shard (the run's `stored` count). Absent in books recorded before it was kept.
   */
  found?: number;
  /** The shard's lines this run created in this batch (version 1; in a dry run, would create), whenever written. */
  created?: number;
}

/**
 * What a run, a batch or a shard records of its work on the stored lines: its rows (`rows = computed + skipped +
 * rejected`) and its line changes by kind. Not the engine's `RunCounts` (shared/engine/reference/reference-engine.ts), what one
 * computation over a snapshot did, with the lines it wrote and their totals.
 */
export interface RecordedCounts {
  rows: number;
  computed: number;
  skipped: number;
  rejected: number;
  calculated: number;
  adjusted: number;
  voided: number;
  unchanged: number;
}

export const ZERO_COUNTS: RecordedCounts = {
  rows: 0,
  computed: 0,
  skipped: 0,
  rejected: 0,
  calculated: 0,
  adjusted: 0,
  voided: 0,
  unchanged: 0,
};

export function addCounts(a: RecordedCounts, b: RecordedCounts): RecordedCounts {
  const out = { ...a };
  for (const k of Object.keys(out) as (keyof RecordedCounts)[]) out[k] += b[k];
  return out;
}

/**
 * What a batch recorded: its counts and totals. Its rejected rows are not here but in the run's files
 * (`rejects/batch-<n>.jsonl`, written before this record): 2,000 rejects of long or CJK ids pass DynamoDB's
 * 400 KB item, and a run's rejects are no business of the table.
 */
export interface BatchSummary {
  batchNo: number;
  counts: RecordedCounts;
  /** What the lines this batch produced add up to, per service and currency (they stand at these amounts now). */
  totals: TotalLine[];
}

export interface TotalLine {
  serviceCode: string | null;
  currency: string;
  lines: number;
  amount: string;
}

/** `requested`: recorded by the API, its execution not yet started or not yet prepared. */
/**
 * `interrupted`: a local run stopped by a signal after its writes in flight (`hiwari run`); `abandoned`: a run whose
 * lock an operator released while it was recorded running (`hiwari unlock`: it had died). The same request resumes
 * either.
 */
export type RunStatus = "requested" | "running" | "completed" | "failed" | "interrupted" | "abandoned";

/** A run of an incident: who, why, when, with what, and what came of it. */
export interface RunRecord {
  incidentId: string;
  runId: string;
  requestedBy: string;
  reason: string;
  dryRun: boolean;
  status: RunStatus;
  startedAt: string;
  completedAt?: string;
  policy: { rule: string; dayBasis: string | number; rounding: string };
  incidentDigest: string;
  snapshotDigest: string;
  snapshotName: string;
  /** Rows per batch: a resumed run must cut the snapshot the same way. */
  batchSize: number;
  counts?: RecordedCounts;
  totals?: TotalLine[];
  error?: string;
  /**
   * A Map child's own error, recorded by the child before it failed (`batch 12: SnapshotChangedError: …`): on AWS the
   * Map itself only says that a child failed, and the run's error names this one.
   */
  batchError?: string;
  /**
   * How many lines (any status) each shard of the incident holds, by shard number: recorded when the run completes, if
   * it knew the count when it started (`storedAtStart`). The next run that knows it need not read the shard's index when
   * every line in it is one the run produces (docs/data-model.md, "The count of stored lines").
   */
  stored?: number[];
  /**
   * The proposal this run applies (four eyes through the finance API: approving it starts this run, with the
   * proposal id as its request id). When the run ends, the proposal is settled: applied, or failed with why.
   */
  proposalId?: string;
}

/** Thrown when another run holds the incident's lock. */
export class RunLockedError extends PermanentError {
  constructor(
    readonly incidentId: string,
    readonly holder: string,
    readonly expiresAt: number,
    options?: ErrorOptions,
  ) {
    super(
      `incident ${incidentId} is being run by ${holder} (lock held until ${new Date(expiresAt).toISOString()}); ` +
        "wait for it to finish, or release a dead run's lock with `hiwari unlock`",
      options,
    );
    this.name = "RunLockedError";
  }
}

/**
 * How much longer than asked `renewLock` sets a lease, so that the next steps, which begin within that margin, find
 * it still long enough and read it instead of writing it again (`leaseIsFresh`). Steps renew the lease as they
 * begin, every batch and every finalize shard; reading costs less than writing (DynamoDB Local makes its reads wait
 * behind every write, and on AWS a read is half a write's price). A step always has at least the lease it asked for
 * (15 minutes, a Lambda's longest run); a dead run's lock is free 15 s later than that.
 */
export const LEASE_FRESH_MS = 15_000;

/**
 * Whether a lease that runs out at `expiresAt` may be left as it is by `renewLock(…, leaseMs)` at `now` (ms): it runs
 * at least `leaseMs` more, and at most LEASE_FRESH_MS beyond (a longer one is shortened: fail-run's drain).
 */
export const leaseIsFresh = (expiresAt: number, now: number, leaseMs: number): boolean =>
  expiresAt >= now + leaseMs && expiresAt <= now + leaseMs + LEASE_FRESH_MS;

/** Thrown when a run finds that its lock is no longer its own (released by an operator, or taken over). */
export class LockLostError extends PermanentError {
  constructor(
    readonly incidentId: string,
    readonly runId: string,
    options?: ErrorOptions,
  ) {
    super(`run ${runId} no longer holds the lock of incident ${incidentId}: it stops without writing more`, options);
    this.name = "LockLostError";
  }
}

/** Thrown when a request id is reused with other inputs: a resumed run must be the same run. */
export class RequestMismatchError extends PermanentError {
  constructor(runId: string, what: string) {
    super(
      `run ${runId} was started with another ${what}; a retried request must be the same request (use a new request id)`,
    );
    this.name = "RequestMismatchError";
  }
}

/** Thrown when a conditional write finds a line changed by someone else since it was read. */
export class ConcurrentChangeError extends PermanentError {
  constructor(
    readonly lineId: string,
    options?: ErrorOptions,
  ) {
    // The line id names a subscriber: it stays on the error (for the run record), out of the message that is logged.
    super("a line changed while this run was writing it: another writer is active", options);
    this.name = "ConcurrentChangeError";
  }
}

/**
 * Thrown when the store refuses a request as invalid, whatever its state (DynamoDB's ValidationException: an item
 * over 400 KB, an empty string in a key): the same request is refused again, so it is not retried. `cause` is the
 * store's own error.
 */
export class StoreValidationError extends PermanentError {
  constructor(message: string, options?: ErrorOptions) {
    super(`the store refused the request: ${message}`, options);
    this.name = "StoreValidationError";
  }
}

/** Storage of refund lines and runs. One implementation: DynamoDB (functions/commons), also against DynamoDB Local. */
export interface RefundStore {
  /** The stored lines (standing or voided) with the ids of these computed lines, where any. */
  linesLike(incidentId: string, lines: readonly KeyedLine[]): Promise<StoredLine[]>;
  /**
   * Writes each change conditionally on the version it was computed from (none for version 1). With
   * `exclusive` (the first run of an incident, under its lock, every change new), in batched writes instead.
   */
  writeChanges(changes: readonly LineChange[], options?: { exclusive?: boolean }): Promise<void>;
  /** All lines of an incident's shard, page by page. */
  linesOfShard(incidentId: string, shard: number): AsyncIterable<StoredLine[]>;
  /** The stored change that becomes `Refund Run Completed`. */
  writeRunCompleted(run: RunRecord): Promise<void>;

  /** Takes the incident's lock: free, expired, or already this run's (a resumed run). */
  acquireLock(incidentId: string, runId: string, leaseMs: number): Promise<void>;
  /**
   * Sets this run's lease to run out `leaseMs` and LEASE_FRESH_MS from now, or leaves one that runs out between
   * `leaseMs` and that (`leaseIsFresh`: another batch or shard of the run renewed it moments ago): after it, the run
   * holds the lock for at least `leaseMs`. Throws LockLostError when the lock is not this run's any more.
   */
  renewLock(incidentId: string, runId: string, leaseMs: number): Promise<void>;
  releaseLock(incidentId: string, runId: string): Promise<void>;
  /** Releases whatever lock the incident has (an operator's recovery of a dead run). Returns the holder, if any. */
  breakLock(incidentId: string): Promise<string | undefined>;

  putRun(run: RunRecord): Promise<void>;
  /** Records a run unless one with its id is recorded already; false when it was. */
  createRun(run: RunRecord): Promise<boolean>;
  getRun(incidentId: string, runId: string): Promise<RunRecord | undefined>;
  listRuns(incidentId: string): Promise<RunRecord[]>;

  putBatch(
    incidentId: string,
    runId: string,
    summary: BatchSummary,
    books: ReadonlyMap<number, ShardBook>,
  ): Promise<void>;
  batchesOf(incidentId: string, runId: string): Promise<BatchSummary[]>;
  /** How many batches the run has recorded (a count, without reading their contents out). */
  countBatches(incidentId: string, runId: string): Promise<number>;
  /** The run's books in one shard, one batch's at a time (a retried batch's once): never merged in one list. */
  shardBooks(runId: string, shard: number): AsyncIterable<ShardBook>;
  /**
   * Notes that a step of this build of hiwari runs for the run, before it writes (idempotent). Kept apart from the
   * books, which a retried step overwrites: a run's count of stored lines holds only if every build noted is its
   * prepare's (`StepDeps.build`).
   */
  noteBuild(runId: string, build: string): Promise<void>;
  /** Every build noted for the run, read consistently. */
  buildsOf(runId: string): Promise<string[]>;
}
