import { closeSync, mkdirSync, openSync, readdirSync, readSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDbRefundStore, type TableNames } from "../../functions/commons/dynamodb/dynamodb-refund-store";
import { type Item, KEYS } from "../../functions/commons/dynamodb/line-item";
import { batchNoOfKey } from "../../functions/commons/dynamodb/run-items";
import { type BatchSummary, leaseIsFresh, type ShardBook } from "../../shared/store/refund-store";
import { DamagedStateError } from "../usage-error";
import { runFolder } from "./local-run-files";

const BOOKS_NAME = /^batch-(\d+)\.books$/;

/**
 * A batch's books as one file: a first line that says where each shard's book is (`{"<shard>": [start, length]}`,
 * in bytes after that line), then the books' JSON one after another. One file a batch, not one a book: creating a
 * file costs about a millisecond here, reading part of one a few microseconds.
 */
function bookFile(books: ReadonlyMap<number, ShardBook>): Buffer {
  const index: Record<number, [number, number]> = {};
  const parts: Buffer[] = [];
  let at = 0;
  for (const [shard, book] of books) {
    const bytes = Buffer.from(JSON.stringify(book));
    index[shard] = [at, bytes.length];
    parts.push(bytes);
    at += bytes.length;
  }
  return Buffer.concat([Buffer.from(`${JSON.stringify(index)}\n`), ...parts]);
}

/** Enough for the first line of any batch's file: 64 entries of two numbers each stay under 2.5 KB. */
const INDEX_BYTES = 4096;

/** One shard's book from a batch's file (`bookFile`), reading its first line and that book only; none if absent. */
function bookIn(path: string, shard: number): ShardBook | undefined {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(INDEX_BYTES);
    const end = head.subarray(0, readSync(fd, head, 0, head.length, 0)).indexOf(10);
    if (end < 0) throw new Error(`${path}: not a file of books (no index line)`);
    const where = (JSON.parse(head.toString("utf8", 0, end)) as Record<string, [number, number]>)[shard];
    if (!where) return undefined;
    const [start, length] = where;
    const book = Buffer.alloc(length);
    if (readSync(fd, book, 0, length, end + 1 + start) !== length) throw new Error(`${path}: shard ${shard} cut short`);
    return JSON.parse(book.toString("utf8")) as ShardBook;
  } finally {
    closeSync(fd);
  }
}

/**
 * The refund store under `hiwari run`: DynamoDB Local for everything but the shard books, which go to the run's
 * folder with its other files: one file a batch (`<state>/runs/<runId>/books/batch-<n>.books`), written whole or not
 * at all, from which a finalize shard reads its own book alone (`bookFile`).
 *
 * Why: DynamoDB Local takes about ten times as long to write an item as to read one, and its reads wait behind its
 * writes, so a batch's 64 book items cost a preview of the sample more than a second beside reading its lines
 * (docs/performance.md); and under `hiwari run` the batches and the shards that read their books run on the machine
 * that holds the tables, in its state folder. On AWS the batches are Lambdas apart and the books stay items
 * (`DynamoDbRefundStore`). The other difference: what this one process alone writes (the lock's lease, the builds
 * noted, the batch records beside their files) is read once and then known, not read by every step (below).
 * Everything else is the DynamoDB store's own, the batch's record included (it only says that its books are a file:
 * `booksIn`).
 */
export class LocalRefundStore extends DynamoDbRefundStore {
  constructor(
    client: DynamoDBClient,
    tables: TableNames,
    private readonly stateDir: string,
  ) {
    super(client, tables);
  }

  /**
   * What a shard found of a run's batch records (`older`: one an earlier version wrote), with the book files there
   * when it read them (their batch numbers, in order). Under the folder's lock only this process adds to either, a
   * batch its file before its record, and no record is ever removed: while the same files are there, the records say
   * the same, and the run's other shards read their books without reading the records again (63 Queries of 64 in a
   * finalize). A file gone or added since is a different set: the records are read, and checked, again.
   */
  private readonly recordsSeen = new Map<string, { files: string; older: boolean }>();

  /**
   * The lock's lease and the builds noted, per incident and per run, as this store last read or wrote them. Under the
   * folder's lock no other process writes the runs table (a second `hiwari run` or `unlock` on the folder is refused;
   * readers through this process's DynamoDB Local write nothing), so what this store knows of them is what the table
   * holds until this store changes it: a step renews a lease it knows to be long enough without reading it (it still
   * runs `leaseMs` more, `leaseIsFresh`), and reads the builds from the table once a run. 63 GetItems and 63 Queries
   * of 64 in a finalize; the first batches and shards of a run read the table as before. On AWS every step reads them
   * (`DynamoDbRefundStore`): there a lock can be broken, and a build noted, by another process meanwhile.
   */
  private readonly leases = new Map<string, { runId: string; expiresAt: number }>();
  private readonly builds = new Map<string, string[]>();
  /**
   * How often this store began or ended a change of a lock or of a run's builds, per key: a read that was in flight
   * across one of its own changes keeps nothing (what it read may be what the change replaced).
   */
  private readonly changes = new Map<string, number>();
  private changesOf = (key: string) => this.changes.get(key) ?? 0;

  /** Runs `write`, a change of `key`, with what is known of it forgotten before and after. */
  private async changing<T>(key: string, forget: () => void, write: () => Promise<T>): Promise<T> {
    this.changes.set(key, this.changesOf(key) + 1);
    forget();
    try {
      return await write();
    } finally {
      this.changes.set(key, this.changesOf(key) + 1);
      forget();
    }
  }

  /** Runs `read`, and keeps what it read (`keep`) only if no change of `key` began or ended meanwhile. */
  private async reading<T>(key: string, read: () => Promise<T>, keep: (value: T) => void): Promise<T> {
    const changes = this.changesOf(key);
    const value = await read();
    if (this.changesOf(key) === changes) keep(value);
    return value;
  }

  /** A change of the incident's lock (acquired, released, broken): its lease known before and after, no longer. */
  private changingLock<T>(incidentId: string, write: () => Promise<T>): Promise<T> {
    return this.changing(`lock#${incidentId}`, () => this.leases.delete(incidentId), write);
  }

  override async acquireLock(incidentId: string, runId: string, leaseMs: number): Promise<void> {
    await this.changingLock(incidentId, () => super.acquireLock(incidentId, runId, leaseMs));
  }

  override async renewLock(incidentId: string, runId: string, leaseMs: number): Promise<void> {
    const known = this.leases.get(incidentId);
    if (known?.runId === runId && leaseIsFresh(known.expiresAt, Date.now(), leaseMs)) return;
    this.leases.delete(incidentId);
    await this.reading(
      `lock#${incidentId}`,
      () => this.renewLease(incidentId, runId, leaseMs),
      (expiresAt) => this.leases.set(incidentId, { runId, expiresAt }),
    );
  }

  override async releaseLock(incidentId: string, runId: string): Promise<void> {
    await this.changingLock(incidentId, () => super.releaseLock(incidentId, runId));
  }

  override async breakLock(incidentId: string): Promise<string | undefined> {
    return this.changingLock(incidentId, () => super.breakLock(incidentId));
  }

  override async buildsOf(runId: string): Promise<string[]> {
    const known = this.builds.get(runId);
    if (known) return [...known];
    const read = await this.reading(
      `builds#${runId}`,
      () => super.buildsOf(runId),
      (value) => this.builds.set(runId, value),
    );
    return [...read];
  }

  override async noteBuild(runId: string, build: string): Promise<void> {
    // Read again after: what the write left, as the table has it
    await this.changing(
      `builds#${runId}`,
      () => this.builds.delete(runId),
      () => super.noteBuild(runId, build),
    );
  }

  /** A batch's record says its books are in a file: a shard then refuses to go on without that file. */
  protected override batchRecord(incidentId: string, runId: string, summary: BatchSummary): Item {
    return { ...super.batchRecord(incidentId, runId, summary), booksIn: { S: "file" } };
  }

  /** The books first, then the batch's record: a recorded batch, which a resumed run skips, has every book. */
  override async putBatch(
    incidentId: string,
    runId: string,
    summary: BatchSummary,
    books: ReadonlyMap<number, ShardBook>,
  ): Promise<void> {
    const folder = this.booksFolder(runId);
    const path = join(folder, `batch-${summary.batchNo}.books`);
    mkdirSync(folder, { recursive: true });
    writeFileSync(`${path}.partial`, bookFile(books));
    renameSync(`${path}.partial`, path); // whole or not at all; a retried batch's replaces its earlier one
    await super.putBatch(incidentId, runId, summary, new Map());
  }

  /**
   * The shard's books, batch by batch in their order (a retried batch's once: its file was replaced). A run an
   * earlier version began (which kept books as items), interrupted and resumed by this one, has items for its
   * earlier batches: a batch's file, where it has one, stands over its items (a later attempt of the batch). A batch
   * recorded with its books in a file that is not there stops the run (a run's folder lost, or restored apart from
   * its tables): without its books, its lines would be voided and its subscribers' goodwill missed.
   */
  override async *shardBooks(runId: string, shard: number): AsyncIterable<ShardBook> {
    const folder = this.booksFolder(runId);
    let names: string[] = [];
    try {
      names = readdirSync(folder);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; // else no batch wrote a file
    }
    const files = new Set(names.flatMap((name) => BOOKS_NAME.exec(name)?.[1] ?? []).map(Number));
    const fileSet = [...files].sort((a, b) => a - b).join(",");
    const seen = this.recordsSeen.get(runId);
    let older = seen?.files === fileSet && seen.older; // a batch recorded by an earlier version, its books items
    if (seen?.files !== fileSet) {
      for await (const page of this.batchRecords(runId))
        for (const record of page) {
          const batchNo = batchNoOfKey(record[KEYS.sk]?.S ?? "");
          if (record.booksIn?.S !== "file") older = true;
          else if (!files.has(batchNo))
            throw new DamagedStateError(
              `run ${runId}: batch ${batchNo} is recorded, but its books (${join(folder, `batch-${batchNo}.books`)}) ` +
                "are missing: restore the run's folder under runs/ with the tables under dynamodb/ " +
                "(docs/operations.md), or run the incident again as a new request (without --request-id)",
            );
        }
      this.recordsSeen.set(runId, { files: fileSet, older });
    }
    const items = new Map<number, ShardBook>();
    if (older)
      for await (const [batchNo, book] of this.shardBookItems(runId, shard))
        if (!files.has(batchNo)) items.set(batchNo, book);
    for (const batchNo of [...files, ...items.keys()].sort((a, b) => a - b)) {
      // Read when its turn comes: one batch's book at a time, as the DynamoDB store gives them
      const book = files.has(batchNo) ? bookIn(join(folder, `batch-${batchNo}.books`), shard) : items.get(batchNo);
      if (book) yield book;
    }
  }

  private booksFolder(runId: string): string {
    return join(runFolder(this.stateDir, runId), "books");
  }
}
