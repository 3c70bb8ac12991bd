import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { inPool } from "../../../shared/async/in-pool";
import { TransientError } from "../../../shared/errors";
import type { Proposal, ProposalState, ProposalStore } from "../../../shared/pipeline/proposal";
import type { KeyedLine, LineChange, StoredLine } from "../../../shared/reconcile/reconcile";
import {
  type BatchSummary,
  ConcurrentChangeError,
  LEASE_FRESH_MS,
  LockLostError,
  leaseIsFresh,
  type RefundStore,
  RunLockedError,
  type RunRecord,
  type ShardBook,
  StoreValidationError,
} from "../../../shared/store/refund-store";
import { fromItem, type Item, incidentOfLineId, KEYS, keyOf, shardKey, toItem } from "./line-item";
import {
  batchItem,
  batchNoOfKey,
  batchPartition,
  bookItem,
  bookPartition,
  buildItem,
  buildsPartition,
  lockItem,
  lockKey,
  proposalItem,
  runCompletedItem,
  runItem,
} from "./run-items";

export interface TableNames {
  refunds: string;
  runs: string;
}

/** Thrown into the tasks still waiting to retry once another has failed: the call is failing, they stop. */
class StoppedError extends TransientError {
  constructor() {
    super("stopped: another task of the call failed");
    this.name = "StoppedError";
  }
}

/**
 * Runs `task` over `items`, `limit` at a time (`inPool`): returns, or throws the first failure, only once every task
 * started has ended, for a Lambda that returns with writes in flight would resume them in its next invocation,
 * which may be another run's. After a failure no new task starts, and those in flight stop at their next retry
 * (`stopped()` says so; their StoppedError is not the news); a retried batch redoes what is missing.
 */
const eachLimited = <T>(
  items: readonly T[],
  limit: number,
  task: (item: T, stopped: () => boolean) => Promise<void>,
): Promise<void> => inPool(items, limit, task, (e) => e instanceof StoppedError);

/**
 * DynamoDB kept handing items of a batch back unprocessed past every retry: throttled for long, or (DynamoDB Local)
 * unable to write them at all, as on a full disk.
 */
export class UnprocessedItemsError extends TransientError {
  constructor(what: string, count: number) {
    super(`${what}: ${count} still unprocessed after 10 retries`);
    this.name = "UnprocessedItemsError";
  }
}

/**
 * Sends `pending` until nothing comes back unprocessed, with exponential backoff and full jitter between tries,
 * 10 retries at most, and none once `stopped()`.
 */
async function untilProcessed<T>(
  what: string,
  pending: T[],
  send: (items: T[]) => Promise<T[]>,
  stopped: () => boolean,
): Promise<void> {
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(backoff(attempt));
    if (stopped()) throw new StoppedError();
    if (attempt > 10) throw new UnprocessedItemsError(what, pending.length);
    pending = await send(pending);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Exponential backoff with full jitter, capped at 2 s. */
const backoff = (attempt: number) => Math.random() * Math.min(2000, 50 * 2 ** attempt);

/**
 * The refund store on DynamoDB: the same class in Lambda and under `hiwari run` (against DynamoDB Local).
 * Line changes are conditional puts on the version they were computed from, so a race or a double apply is
 * refused rather than applied twice; bookkeeping goes in batched writes, harmless to repeat. See
 * docs/data-model.md.
 */
export class DynamoDbRefundStore implements RefundStore, ProposalStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tables: TableNames,
    private readonly concurrency = 16,
  ) {
    // Every call's ValidationException (an item over 400 KB, an empty key) becomes a StoreValidationError, whichever
    // call met it: the same request is refused again, so the run must not retry it. Named and with override, the
    // middleware is on the client once however many stores share it; every other error passes as it is.
    client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (e) {
          if ((e as Error | undefined)?.name !== "ValidationException") throw e;
          throw new StoreValidationError((e as Error).message, { cause: e });
        }
      },
      { step: "initialize", name: "hiwariStoreValidationError", override: true },
    );
  }

  async linesLike(incidentId: string, lines: readonly KeyedLine[]): Promise<StoredLine[]> {
    const out: StoredLine[] = [];
    const keys = lines.map((l) => keyOf(incidentId, l));
    const chunks: Item[][] = [];
    for (let i = 0; i < keys.length; i += 100) chunks.push(keys.slice(i, i + 100));
    await eachLimited(chunks, this.concurrency, (chunk, stopped) =>
      untilProcessed(
        "BatchGetItem: keys",
        chunk,
        async (pending) => {
          const result = await this.client.send(
            new BatchGetItemCommand({
              RequestItems: { [this.tables.refunds]: { Keys: pending, ConsistentRead: true } },
            }),
          );
          for (const item of result.Responses?.[this.tables.refunds] ?? []) out.push(fromItem(item as Item));
          return (result.UnprocessedKeys?.[this.tables.refunds]?.Keys ?? []) as Item[];
        },
        stopped,
      ),
    );
    return out;
  }

  async writeChanges(changes: readonly LineChange[], options: { exclusive?: boolean } = {}): Promise<void> {
    const now = new Date().toISOString();
    if (options.exclusive && changes.every((c) => c.previous === undefined)) {
      // First run of an incident, under its lock: nothing stored, no one else writing. Batched writes are safe, and
      // a repeated one rewrites the same version-1 item, which the publisher does not turn into an event again.
      // Items are built a chunk at a time, as they are sent: a shard's 560,000 goodwill lines at KDDI size would be
      // over a gigabyte of items built at once.
      await this.batchWrite(this.tables.refunds, changes, (c) => ({
        PutRequest: { Item: toItem(incidentOfLineId(c.next.lineId), c.next, now) },
      }));
      return;
    }
    await eachLimited(changes, this.concurrency, async (change) => {
      const item = toItem(incidentOfLineId(change.next.lineId), change.next, now);
      const previous = change.previous;
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.tables.refunds,
            Item: item,
            ConditionExpression: previous ? "#v = :v" : "attribute_not_exists(#pk)",
            ExpressionAttributeNames: previous ? { "#v": "version" } : { "#pk": KEYS.pk },
            ExpressionAttributeValues: previous ? { ":v": { N: String(previous.version) } } : undefined,
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        // Our own write, applied before a lost response and retried by the SDK, is success; anything else is a race.
        const current = e.Item ? fromItem(e.Item) : undefined;
        if (current && current.version === change.next.version && current.runId === change.next.runId) return;
        throw new ConcurrentChangeError(change.next.lineId, { cause: e });
      }
    });
  }

  async *linesOfShard(incidentId: string, shard: number): AsyncIterable<StoredLine[]> {
    for await (const page of this.query({
      TableName: this.tables.refunds,
      IndexName: KEYS.gsi1,
      KeyConditionExpression: "#g = :g",
      ExpressionAttributeNames: { "#g": KEYS.gsi1pk },
      ExpressionAttributeValues: { ":g": { S: shardKey(incidentId, shard) } },
    })) {
      yield page.map(fromItem);
    }
  }

  async writeRunCompleted(run: RunRecord): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tables.refunds,
          Item: runCompletedItem(run),
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": KEYS.pk },
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e; // written already: its event is out
    }
  }

  async acquireLock(incidentId: string, runId: string, leaseMs: number): Promise<void> {
    const now = Date.now();
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tables.runs,
          Item: lockItem(incidentId, runId, now + leaseMs),
          ConditionExpression: "attribute_not_exists(#pk) OR runId = :me OR expiresAt < :now",
          ExpressionAttributeNames: { "#pk": KEYS.pk },
          ExpressionAttributeValues: { ":me": { S: runId }, ":now": { N: String(now) } },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      throw new RunLockedError(incidentId, e.Item?.runId?.S ?? "another run", Number(e.Item?.expiresAt?.N ?? 0), {
        cause: e,
      });
    }
  }

  async renewLock(incidentId: string, runId: string, leaseMs: number): Promise<void> {
    await this.renewLease(incidentId, runId, leaseMs);
  }

  /** `renewLock`, returning when the lease it read or wrote runs out (ms since the epoch). */
  protected async renewLease(incidentId: string, runId: string, leaseMs: number): Promise<number> {
    const now = Date.now();
    const { Item: held } = await this.client.send(
      new GetItemCommand({ TableName: this.tables.runs, Key: lockKey(incidentId), ConsistentRead: true }),
    );
    if (held?.runId?.S !== runId) throw new LockLostError(incidentId, runId);
    const expiresAt = Number(held.expiresAt?.N);
    if (leaseIsFresh(expiresAt, now, leaseMs)) return expiresAt;
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tables.runs,
          Item: lockItem(incidentId, runId, now + leaseMs + LEASE_FRESH_MS),
          ConditionExpression: "runId = :me",
          ExpressionAttributeValues: { ":me": { S: runId } },
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      throw new LockLostError(incidentId, runId, { cause: e });
    }
    return now + leaseMs + LEASE_FRESH_MS;
  }

  async releaseLock(incidentId: string, runId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tables.runs,
          Key: lockKey(incidentId),
          ConditionExpression: "runId = :me",
          ExpressionAttributeValues: { ":me": { S: runId } },
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e; // not ours any more: nothing to release
    }
  }

  async breakLock(incidentId: string): Promise<string | undefined> {
    const result = await this.client.send(
      new DeleteItemCommand({
        TableName: this.tables.runs,
        Key: lockKey(incidentId),
        ReturnValues: "ALL_OLD",
      }),
    );
    return result.Attributes?.runId?.S;
  }

  async putRun(run: RunRecord): Promise<void> {
    await this.client.send(new PutItemCommand({ TableName: this.tables.runs, Item: runItem(run) }));
  }

  async createRun(run: RunRecord): Promise<boolean> {
    return this.putIf(runItem(run), "attribute_not_exists(#pk)", { "#pk": KEYS.pk }, {});
  }

  async getRun(incidentId: string, runId: string): Promise<RunRecord | undefined> {
    const result = await this.client.send(
      new GetItemCommand({
        TableName: this.tables.runs,
        Key: { [KEYS.pk]: { S: `INCIDENT#${incidentId}` }, [KEYS.sk]: { S: `RUN#${runId}` } },
        ConsistentRead: true,
      }),
    );
    const text = result.Item?.run?.S;
    return text ? (JSON.parse(text) as RunRecord) : undefined;
  }

  async createProposal(proposal: Proposal): Promise<boolean> {
    return this.putIf(proposalItem(proposal), "attribute_not_exists(#pk)", { "#pk": KEYS.pk }, {});
  }

  async updateProposal(proposal: Proposal, from: ProposalState): Promise<boolean> {
    return this.putIf(proposalItem(proposal), "#state = :from", { "#state": "state" }, { ":from": { S: from } });
  }

  async getProposal(incidentId: string, proposalId: string): Promise<Proposal | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tables.runs,
        Key: { [KEYS.pk]: { S: `INCIDENT#${incidentId}` }, [KEYS.sk]: { S: `PROPOSAL#${proposalId}` } },
        ConsistentRead: true,
      }),
    );
    return Item?.proposal?.S ? (JSON.parse(Item.proposal.S) as Proposal) : undefined;
  }

  async listProposals(incidentId: string): Promise<Proposal[]> {
    const proposals = await this.incidentItems<Proposal>(incidentId, "PROPOSAL#", "proposal");
    return proposals.sort((a, b) => a.proposedAt.localeCompare(b.proposedAt));
  }

  /** The records (JSON in `attribute`) of an incident's items in the runs table whose sort key begins with `prefix`. */
  private async incidentItems<T>(incidentId: string, prefix: string, attribute: string): Promise<T[]> {
    const records: T[] = [];
    for await (const page of this.query({
      TableName: this.tables.runs,
      KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
      ExpressionAttributeNames: { "#pk": KEYS.pk, "#sk": KEYS.sk },
      ExpressionAttributeValues: { ":pk": { S: `INCIDENT#${incidentId}` }, ":prefix": { S: prefix } },
      ConsistentRead: true,
    })) {
      for (const item of page) records.push(JSON.parse(item[attribute]?.S ?? "{}") as T);
    }
    return records;
  }

  /** Puts an item of the runs table on a condition; false when the condition does not hold. */
  private async putIf(
    item: Item,
    condition: string,
    names: Record<string, string>,
    values: Record<string, AttributeValue>,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tables.runs,
          Item: item,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  /**
   * The ids of the incidents with at least one run, sorted: a Scan of the runs table (one item per run, lock,
   * batch and proposal: small beside the refunds table; for the command line and the console, not the pipeline).
   */
  async listIncidents(): Promise<string[]> {
    const ids = new Set<string>();
    let start: Item | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tables.runs,
          FilterExpression: "begins_with(#sk, :run)",
          ProjectionExpression: "#pk",
          ExpressionAttributeNames: { "#pk": KEYS.pk, "#sk": KEYS.sk },
          ExpressionAttributeValues: { ":run": { S: "RUN#" } },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const pk = item[KEYS.pk]?.S ?? "";
        if (pk.startsWith("INCIDENT#")) ids.add(pk.slice("INCIDENT#".length));
      }
      start = page.LastEvaluatedKey as Item | undefined;
    } while (start);
    return [...ids].sort();
  }

  async listRuns(incidentId: string): Promise<RunRecord[]> {
    const runs = await this.incidentItems<RunRecord>(incidentId, "RUN#", "run");
    return runs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  async putBatch(
    incidentId: string,
    runId: string,
    summary: BatchSummary,
    books: ReadonlyMap<number, ShardBook>,
  ): Promise<void> {
    // The books first, the summary after the last of them: a recorded batch is one a resumed run skips, so it must
    // have every book (a write of them refused midway leaves the batch unrecorded, to be computed again).
    await this.batchWrite(this.tables.runs, [...books], ([shard, book]) => ({
      PutRequest: { Item: bookItem(runId, summary.batchNo, shard, book) },
    }));
    await this.client.send(
      new PutItemCommand({ TableName: this.tables.runs, Item: this.batchRecord(incidentId, runId, summary) }),
    );
  }

  async batchesOf(_incidentId: string, runId: string): Promise<BatchSummary[]> {
    const out: BatchSummary[] = [];
    for await (const page of this.batchRecords(runId)) {
      for (const item of page) out.push(JSON.parse(item.summary?.S ?? "{}") as BatchSummary);
    }
    return out;
  }

  async countBatches(_incidentId: string, runId: string): Promise<number> {
    let count = 0;
    let start: Item | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tables.runs,
          KeyConditionExpression: "#pk = :pk",
          ExpressionAttributeNames: { "#pk": KEYS.pk },
          ExpressionAttributeValues: { ":pk": { S: batchPartition(runId) } },
          ConsistentRead: true,
          Select: "COUNT",
          ExclusiveStartKey: start,
        }),
      );
      count += page.Count ?? 0;
      start = page.LastEvaluatedKey as Item | undefined;
    } while (start);
    return count;
  }

  async noteBuild(runId: string, build: string): Promise<void> {
    await this.client.send(new PutItemCommand({ TableName: this.tables.runs, Item: buildItem(runId, build) }));
  }

  async buildsOf(runId: string): Promise<string[]> {
    const out: string[] = [];
    for await (const page of this.runsPartition(buildsPartition(runId)))
      for (const item of page) out.push(item.build?.S ?? "");
    return out;
  }

  async *shardBooks(runId: string, shard: number): AsyncIterable<ShardBook> {
    for await (const [, book] of this.shardBookItems(runId, shard)) yield book;
  }

  /** The item that records a batch (`LocalRefundStore` adds where its books are). */
  protected batchRecord(incidentId: string, runId: string, summary: BatchSummary): Item {
    return batchItem(incidentId, runId, summary);
  }

  /** The items that record the run's batches, page by page, read consistently. */
  protected batchRecords(runId: string): AsyncIterable<Item[]> {
    return this.runsPartition(batchPartition(runId));
  }

  /** The run's book items in one shard, each with its batch's number, in batch order. */
  protected async *shardBookItems(runId: string, shard: number): AsyncIterable<[number, ShardBook]> {
    for await (const page of this.runsPartition(bookPartition(runId, shard)))
      for (const item of page)
        yield [batchNoOfKey(item[KEYS.sk]?.S ?? ""), JSON.parse(item.book?.S ?? "{}") as ShardBook];
  }

  /**
   * BatchWriteItem in chunks of 25, retrying unprocessed items (untilProcessed). Each chunk's requests are built
   * (`toRequest`) when it is sent, so no more than `concurrency` chunks of items exist at once.
   */
  private async batchWrite<T>(
    table: string,
    entries: readonly T[],
    toRequest: (entry: T) => WriteRequest,
  ): Promise<void> {
    const chunks: T[][] = [];
    for (let i = 0; i < entries.length; i += 25) chunks.push(entries.slice(i, i + 25));
    await eachLimited(chunks, this.concurrency, (chunk, stopped) =>
      untilProcessed(
        "BatchWriteItem: items",
        chunk.map(toRequest),
        async (pending) => {
          const result = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
          return result.UnprocessedItems?.[table] ?? [];
        },
        stopped,
      ),
    );
  }

  /** Every item of one partition of the runs table (a run's batches, books in a shard, builds), read consistently. */
  private runsPartition(pk: string): AsyncIterable<Item[]> {
    return this.query({
      TableName: this.tables.runs,
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": KEYS.pk },
      ExpressionAttributeValues: { ":pk": { S: pk } },
      ConsistentRead: true,
    });
  }

  private async *query(input: ConstructorParameters<typeof QueryCommand>[0]): AsyncIterable<Item[]> {
    let start: Item | undefined;
    do {
      const result = await this.client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      yield (result.Items ?? []) as Item[];
      start = result.LastEvaluatedKey as Item | undefined;
    } while (start);
  }
}
