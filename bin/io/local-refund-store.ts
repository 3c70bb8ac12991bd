import { readdir } from "node:fs/promises";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDbRefundStore, type TableNames } from "../../functions/commons/dynamodb/dynamodb-refund-store";
import { inPool } from "../../shared/async/in-pool";
import type { BatchSummary, ShardBook } from "../../shared/store/refund-store";
import { FolderRunFiles, runFolder } from "./local-run-files";

/** Where a batch's book of one shard goes among its run's files. */
const bookFile = (shard: number, batchNo: number) => `${BOOKS_FOLDER}/shard-${shard}/batch-${batchNo}.json`;
const BOOKS_FOLDER = "books";
const BOOK_NAME = /^batch-(\d+)\.json$/;

/**
 * The refund store under `hiwari run`: DynamoDB Local for everything but the shard books, which go to the run's
 * folder with its other files (`<state>/runs/<runId>/books/shard-<k>/batch-<n>.json`), each written whole or not at
 * all.
 *
 * Why the one difference: DynamoDB Local takes about ten times as long to write an item as to read one, and its reads
 * wait behind its writes, so a batch's 64 book items cost a preview of the sample more than a second beside
 * reading its lines (docs/performance.md); and under `hiwari run` every book is written and read by the same
 * process, on the same disk as the tables. On AWS the batches are Lambdas apart and the books stay items
 * (`DynamoDbRefundStore`). Everything else, the batch's record included, is the DynamoDB store's own.
 */
export class LocalRefundStore extends DynamoDbRefundStore {
  constructor(
    client: DynamoDBClient,
    tables: TableNames,
    private readonly stateDir: string,
  ) {
    super(client, tables);
  }

  /** The books first, then the batch's record: a recorded batch, which a resumed run skips, has every book. */
  override async putBatch(
    incidentId: string,
    runId: string,
    summary: BatchSummary,
    books: ReadonlyMap<number, ShardBook>,
  ): Promise<void> {
    const files = new FolderRunFiles(runFolder(this.stateDir, runId));
    await inPool([...books], 16, ([shard, book]) => files.put(bookFile(shard, summary.batchNo), JSON.stringify(book)));
    await super.putBatch(incidentId, runId, summary, new Map());
  }

  /** The shard's books, batch by batch in their order (a retried batch's once: its file was replaced). */
  override async *shardBooks(runId: string, shard: number): AsyncIterable<ShardBook> {
    const files = new FolderRunFiles(runFolder(this.stateDir, runId));
    const folder = `${BOOKS_FOLDER}/shard-${shard}`;
    const names = await readdir(`${files.folder}/${folder}`).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return []; // no batch touched the shard
      throw e;
    });
    const batches = names.flatMap((name) => BOOK_NAME.exec(name)?.[1] ?? []).map(Number);
    for (const batchNo of batches.sort((a, b) => a - b))
      yield JSON.parse(await files.get(bookFile(shard, batchNo))) as ShardBook;
  }
}
