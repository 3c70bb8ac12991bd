import type { KeyedLine, LineChange, StoredLine } from "../../shared/reconcile/reconcile";
import {
  type BatchSummary,
  LockLostError,
  type RefundStore,
  RunLockedError,
  type RunRecord,
  type ShardBook,
  shardOf,
} from "../../shared/store/refund-store";

/**
 * The RefundStore interface kept in memory, for the pure pipeline steps' own tests (shared/pipeline/*): what a
 * step asked of its store, in order (`calls`), and what it left there. Not a model of DynamoDB: its conditions,
 * paging and failures are tested against DynamoDB Local (test/functions/commons/dynamodb/).
 */
export class MemoryStore implements RefundStore {
  readonly calls: string[] = [];
  readonly lines = new Map<string, StoredLine>();
  readonly runs = new Map<string, RunRecord>();
  readonly batches = new Map<string, { summary: BatchSummary; books: Map<number, ShardBook> }>();
  readonly completed: RunRecord[] = [];
  lock: { incidentId: string; runId: string; expiresAt: number } | undefined;

  async linesLike(incidentId: string, lines: readonly KeyedLine[]): Promise<StoredLine[]> {
    this.calls.push(`linesLike ${incidentId} ${lines.length}`);
    return lines.flatMap((l) => this.lines.get(l.lineId) ?? []);
  }
  async writeChanges(changes: readonly LineChange[], options: { exclusive?: boolean } = {}): Promise<void> {
    this.calls.push(`writeChanges ${changes.length}${options.exclusive ? " exclusive" : ""}`);
    for (const c of changes) this.lines.set(c.next.lineId, c.next);
  }
  async *linesOfShard(incidentId: string, shard: number): AsyncIterable<StoredLine[]> {
    this.calls.push(`linesOfShard ${incidentId} ${shard}`);
    const prefix = `${incidentId}#`;
    yield [...this.lines.values()].filter((l) => {
      const group = l.subscriptionId === null ? l.lineId : l.lineId.slice(0, l.lineId.lastIndexOf("#"));
      return l.lineId.startsWith(prefix) && shardOf(group) === shard;
    });
  }
  async writeRunCompleted(run: RunRecord): Promise<void> {
    this.calls.push(`writeRunCompleted ${run.runId}`);
    this.completed.push(run);
  }
  async acquireLock(incidentId: string, runId: string, leaseMs: number): Promise<void> {
    this.calls.push(`acquireLock ${incidentId} ${runId} ${leaseMs}`);
    const held = this.lock;
    if (held && held.incidentId === incidentId && held.runId !== runId && held.expiresAt >= Date.now())
      throw new RunLockedError(incidentId, held.runId, held.expiresAt);
    this.lock = { incidentId, runId, expiresAt: Date.now() + leaseMs };
  }
  async renewLock(incidentId: string, runId: string, leaseMs: number): Promise<void> {
    this.calls.push(`renewLock ${incidentId} ${runId}`);
    if (this.lock?.incidentId !== incidentId || this.lock.runId !== runId) throw new LockLostError(incidentId, runId);
    this.lock.expiresAt = Date.now() + leaseMs;
  }
  async releaseLock(incidentId: string, runId: string): Promise<void> {
    this.calls.push(`releaseLock ${incidentId} ${runId}`);
    if (this.lock?.incidentId === incidentId && this.lock.runId === runId) this.lock = undefined;
  }
  async breakLock(incidentId: string): Promise<string | undefined> {
    const holder = this.lock?.incidentId === incidentId ? this.lock.runId : undefined;
    this.lock = undefined;
    return holder;
  }
  async putRun(run: RunRecord): Promise<void> {
    this.calls.push(`putRun ${run.runId} ${run.status}`);
    this.runs.set(run.runId, run);
  }
  async createRun(run: RunRecord): Promise<boolean> {
    if (this.runs.has(run.runId)) return false;
    this.runs.set(run.runId, run);
    return true;
  }
  async getRun(_incidentId: string, runId: string): Promise<RunRecord | undefined> {
    return this.runs.get(runId);
  }
  async listRuns(incidentId: string): Promise<RunRecord[]> {
    return [...this.runs.values()].filter((r) => r.incidentId === incidentId);
  }
  async putBatch(
    incidentId: string,
    runId: string,
    summary: BatchSummary,
    books: Map<number, ShardBook>,
  ): Promise<void> {
    this.calls.push(`putBatch ${incidentId} ${runId} ${summary.batchNo}`);
    this.batches.set(`${runId}#${summary.batchNo}`, { summary, books });
  }
  async batchesOf(_incidentId: string, runId: string): Promise<BatchSummary[]> {
    return [...this.batches.entries()].filter(([k]) => k.startsWith(`${runId}#`)).map(([, b]) => b.summary);
  }
  async countBatches(incidentId: string, runId: string): Promise<number> {
    this.calls.push(`countBatches ${incidentId} ${runId}`);
    return (await this.batchesOf(incidentId, runId)).length;
  }
  readonly builds = new Map<string, Set<string>>();
  async noteBuild(runId: string, build: string): Promise<void> {
    this.calls.push(`noteBuild ${runId} ${build}`);
    this.builds.set(runId, (this.builds.get(runId) ?? new Set()).add(build));
  }
  async buildsOf(runId: string): Promise<string[]> {
    return [...(this.builds.get(runId) ?? [])];
  }
  async *shardBooks(runId: string, shard: number): AsyncIterable<ShardBook> {
    for (const [k, b] of this.batches) {
      const book = b.books.get(shard);
      if (k.startsWith(`${runId}#`) && book) yield book;
    }
  }
}
