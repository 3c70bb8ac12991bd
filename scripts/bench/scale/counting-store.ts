import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type Item, incidentOfLineId, keyOf, toItem } from "../../../functions/commons/dynamodb/line-item";
import {
  batchItem,
  bookItem,
  lockItem,
  runCompletedItem,
  runItem,
} from "../../../functions/commons/dynamodb/run-items";
import type { KeyedLine, LineChange, StoredLine } from "../../../shared/reconcile/reconcile";
import {
  type BatchSummary,
  LEASE_FRESH_MS,
  LockLostError,
  leaseIsFresh,
  type RefundStore,
  RunLockedError,
  type RunRecord,
  type ShardBook,
} from "../../../shared/store/refund-store";
import { itemBytes } from "./item-size";

/** What was asked of the store, per kind of item written. */
export interface WriteTally {
  count: number;
  totalBytes: number;
  maxBytes: number;
}

/** Every kind of item the DynamoDB store writes (functions/commons/dynamodb/dynamodb-refund-store.ts). */
export const ITEM_KINDS = ["line", "goodwill", "batch", "book", "run", "lock", "runCompleted"] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

export interface StoreTally {
  items: Record<ItemKind, WriteTally>;
  /** BatchWriteItem calls of 25 items, and single PutItem/DeleteItem calls, as the DynamoDB store would make them. */
  batchWriteCalls: number;
  putItemCalls: number;
  /** Keys of lines read back (`linesLike`): BatchGetItem of 100 keys each. */
  keysRead: number;
  batchGetCalls: number;
}

export function emptyStoreTally(): StoreTally {
  const items = Object.fromEntries(ITEM_KINDS.map((k) => [k, { count: 0, totalBytes: 0, maxBytes: 0 }]));
  return { items: items as StoreTally["items"], batchWriteCalls: 0, putItemCalls: 0, keysRead: 0, batchGetCalls: 0 };
}

/** Adds `b` into `a`. */
export function addStoreTally(a: StoreTally, b: StoreTally): StoreTally {
  for (const kind of ITEM_KINDS) {
    const [x, y] = [a.items[kind], b.items[kind]];
    x.count += y.count;
    x.totalBytes += y.totalBytes;
    x.maxBytes = Math.max(x.maxBytes, y.maxBytes);
  }
  a.batchWriteCalls += b.batchWriteCalls;
  a.putItemCalls += b.putItemCalls;
  a.keysRead += b.keysRead;
  a.batchGetCalls += b.batchGetCalls;
  return a;
}

interface RunsFile {
  runs: Record<string, RunRecord>;
  lock?: { incidentId: string; runId: string; expiresAt: number };
}

/**
 * A `RefundStore` that stores no refund line: it measures every item it is asked to write (DynamoDB's size of the
 * very item the DynamoDB store would send) and counts the calls, for an incident's first run (nothing stored
 * before: `linesLike` and `linesOfShard` find nothing). What the later steps read back, in other processes, is
 * kept in files under `folder`: the runs and the lock (`runs.json`), each batch's summary
 * (`batches/<writer>.jsonl`) and its books per shard (`books/<shard>/<writer>.jsonl`), one file per writing
 * process so that processes running at once never share a file. A batch written twice (a retried child) is read
 * once, as DynamoDB's key would keep it once.
 */
export class CountingStore implements RefundStore {
  readonly tally = emptyStoreTally();
  private readonly appendFiles = new Map<string, number>();

  constructor(
    private readonly folder: string,
    /** Names this process's files: unique among the processes writing at once. */
    private readonly writer: string,
  ) {
    mkdirSync(folder, { recursive: true });
  }

  private count(kind: ItemKind, item: Item): void {
    const bytes = itemBytes(item);
    const t = this.tally.items[kind];
    t.count++;
    t.totalBytes += bytes;
    if (bytes > t.maxBytes) t.maxBytes = bytes;
  }

  async linesLike(incidentId: string, lines: readonly KeyedLine[]): Promise<StoredLine[]> {
    // The keys the DynamoDB store would build and send, 100 a call; a first run finds none of them.
    const keys = lines.map((l) => keyOf(incidentId, l));
    this.tally.keysRead += keys.length;
    this.tally.batchGetCalls += Math.ceil(keys.length / 100);
    return [];
  }

  async writeChanges(changes: readonly LineChange[], options: { exclusive?: boolean } = {}): Promise<void> {
    const now = new Date().toISOString();
    // Each item is built and measured as it would be sent: the DynamoDB store builds a call's items a chunk at a
    // time (batched writes) or one at a time (conditional puts), never all at once.
    for (const c of changes)
      this.count(
        c.next.subscriptionId === null ? "goodwill" : "line",
        toItem(incidentOfLineId(c.next.lineId), c.next, now),
      );
    if (options.exclusive && changes.every((c) => c.previous === undefined))
      this.tally.batchWriteCalls += Math.ceil(changes.length / 25);
    else this.tally.putItemCalls += changes.length;
  }

  /** A first run: the incident's index holds nothing yet. */
  async *linesOfShard(_incidentId: string, _shard: number): AsyncIterable<StoredLine[]> {}

  async writeRunCompleted(run: RunRecord): Promise<void> {
    this.count("runCompleted", runCompletedItem(run));
    this.tally.putItemCalls++;
  }

  async acquireLock(incidentId: string, runId: string, leaseMs: number): Promise<void> {
    const state = this.readRuns();
    const now = Date.now();
    const lock = state.lock;
    if (lock && lock.incidentId === incidentId && lock.runId !== runId && lock.expiresAt >= now)
      throw new RunLockedError(incidentId, lock.runId, lock.expiresAt);
    state.lock = { incidentId, runId, expiresAt: now + leaseMs };
    this.count("lock", lockItem(incidentId, runId, state.lock.expiresAt));
    this.tally.putItemCalls++;
    this.writeRuns(state);
  }

  async renewLock(incidentId: string, runId: string, leaseMs: number): Promise<void> {
    // Checked against the file (another process may have released it); the lease itself is not rewritten. The write
    // is counted as the DynamoDB store makes it: only when the lease this writer set last is not fresh any more
    // (other writers' renewals, which the store would read too, are not seen: an upper bound).
    const lock = this.readRuns().lock;
    if (lock?.incidentId !== incidentId || lock.runId !== runId) throw new LockLostError(incidentId, runId);
    const now = Date.now();
    if (leaseIsFresh(this.leases.get(runId) ?? Number.NaN, now, leaseMs)) return;
    this.leases.set(runId, now + leaseMs + LEASE_FRESH_MS);
    this.count("lock", lockItem(incidentId, runId, now + leaseMs + LEASE_FRESH_MS));
    this.tally.putItemCalls++;
  }

  /** When the lease this writer set last for each run runs out. */
  private readonly leases = new Map<string, number>();

  async releaseLock(incidentId: string, runId: string): Promise<void> {
    const state = this.readRuns();
    this.tally.putItemCalls++;
    if (state.lock?.incidentId !== incidentId || state.lock.runId !== runId) return;
    delete state.lock;
    this.writeRuns(state);
  }

  async breakLock(incidentId: string): Promise<string | undefined> {
    const state = this.readRuns();
    const holder = state.lock?.incidentId === incidentId ? state.lock.runId : undefined;
    delete state.lock;
    this.writeRuns(state);
    return holder;
  }

  async putRun(run: RunRecord): Promise<void> {
    const state = this.readRuns();
    state.runs[run.runId] = run;
    this.count("run", runItem(run));
    this.tally.putItemCalls++;
    this.writeRuns(state);
  }

  async createRun(run: RunRecord): Promise<boolean> {
    if (this.readRuns().runs[run.runId]) return false;
    await this.putRun(run);
    return true;
  }

  async getRun(_incidentId: string, runId: string): Promise<RunRecord | undefined> {
    return this.readRuns().runs[runId];
  }

  async listRuns(incidentId: string): Promise<RunRecord[]> {
    return Object.values(this.readRuns().runs)
      .filter((r) => r.incidentId === incidentId)
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  async putBatch(
    incidentId: string,
    runId: string,
    summary: BatchSummary,
    books: ReadonlyMap<number, ShardBook>,
  ): Promise<void> {
    for (const [shard, book] of books) {
      this.count("book", bookItem(runId, summary.batchNo, shard, book));
      this.append(
        join("books", String(shard), `${this.writer}.jsonl`),
        `${runId}\t${summary.batchNo}\t${JSON.stringify(book)}\n`,
      );
    }
    // The books in calls of 25, then the batch item alone (a recorded batch has every book).
    this.count("batch", batchItem(incidentId, runId, summary));
    this.append(join("batches", `${this.writer}.jsonl`), `${runId}\t${summary.batchNo}\t${JSON.stringify(summary)}\n`);
    this.tally.batchWriteCalls += Math.ceil(books.size / 25);
    this.tally.putItemCalls++;
  }

  async batchesOf(_incidentId: string, runId: string): Promise<BatchSummary[]> {
    const byNo = new Map<number, BatchSummary>();
    for await (const [no, text] of this.records("batches", runId)) byNo.set(no, JSON.parse(text) as BatchSummary);
    return [...byNo.values()];
  }

  async noteBuild(runId: string, build: string): Promise<void> {
    this.append(join("builds", `${this.writer}.txt`), `${runId}\t0\t${build}\n`);
  }

  async buildsOf(runId: string): Promise<string[]> {
    const builds = new Set<string>();
    for await (const [, build] of this.records("builds", runId)) builds.add(build);
    return [...builds];
  }

  async countBatches(_incidentId: string, runId: string): Promise<number> {
    const seen = new Set<number>();
    for await (const [no] of this.records("batches", runId)) seen.add(no);
    return seen.size;
  }

  async *shardBooks(runId: string, shard: number): AsyncIterable<ShardBook> {
    // Read line by line as the DynamoDB store queries them, one batch's book at a time; a retried batch's once.
    const seen = new Set<number>();
    for await (const [no, text] of this.records(join("books", String(shard)), runId)) {
      if (seen.has(no)) continue;
      seen.add(no);
      yield JSON.parse(text) as ShardBook;
    }
  }

  /** Closes the files this process appended to. */
  close(): void {
    for (const fd of this.appendFiles.values()) closeSync(fd);
    this.appendFiles.clear();
  }

  /** The `[batchNo, json]` records of a run in every writer's file of a folder, read line by line. */
  private async *records(folder: string, runId: string): AsyncIterable<[number, string]> {
    const dir = join(this.folder, folder);
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const lines = createInterface({ input: createReadStream(join(dir, name), { highWaterMark: 1 << 20 }) });
      for await (const line of lines) {
        const a = line.indexOf("\t");
        const b = line.indexOf("\t", a + 1);
        if (a === -1 || b === -1 || line.slice(0, a) !== runId) continue;
        yield [Number(line.slice(a + 1, b)), line.slice(b + 1)];
      }
    }
  }

  private append(name: string, text: string): void {
    let fd = this.appendFiles.get(name);
    if (fd === undefined) {
      const path = join(this.folder, name);
      mkdirSync(join(path, ".."), { recursive: true });
      fd = openSync(path, "a");
      this.appendFiles.set(name, fd);
    }
    writeSync(fd, text);
  }

  private readRuns(): RunsFile {
    const path = join(this.folder, "runs.json");
    return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as RunsFile) : { runs: {} };
  }

  private writeRuns(state: RunsFile): void {
    const path = join(this.folder, "runs.json");
    const fd = openSync(`${path}.partial`, "w");
    writeSync(fd, JSON.stringify(state));
    closeSync(fd);
    renameSync(`${path}.partial`, path);
  }
}
