import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
  type Shard,
} from "@aws-sdk/client-dynamodb-streams";
import type { DynamoDBRecord } from "aws-lambda";
import { DamagedStateError } from "../usage-error";
import { type DrainOutput, DrainOutputs, type OutputState, type Repair } from "./drain-outputs";
import { localClientConfig } from "./dynamodb-local";

export { type DrainOutput, describeRepair, type Repair } from "./drain-outputs";

/** Handles a batch of stream records as the Lambda event source mapping would; returns the failed sequence numbers. */
export type RecordBatchHandler = (records: DynamoDBRecord[]) => Promise<string[]>;

/**
 * Where the stream was left, and the files its handler appends to as they stood then: each page's position and
 * the outputs' lengths are committed together, in one atomic rename, so that whatever moment the process dies,
 * the next drain knows which bytes of each output belong to committed pages (bin/io/drain-outputs.ts).
 */
interface Checkpoint extends OutputState {
  /** `${streamArn}|${shardId}` → last sequence number handled. */
  positions: Record<string, string>;
}

/** Thrown for a state file that cannot be what hiwari left (defined beside LocalStateError, for dynamodb-local). */
export { DamagedStateError };

/** The way back from a damaged events file or checkpoint, without a backup. */
const REPUBLISH =
  "publish again every change the stream still holds (DynamoDB Local keeps 24 hours; billing dedupes on eventId)";

/** The checkpoint file, or an empty one; an earlier format (positions only) is read as positions. */
function readCheckpoint(file: string): Checkpoint {
  if (!existsSync(file)) return { positions: {}, committed: {} };
  const damaged = (why: string) =>
    new DamagedStateError(
      `${file}: not the stream checkpoint hiwari writes (${why}); it records which stream records were published: ` +
        `restore it from a backup, or move it away to ${REPUBLISH}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw damaged((e as Error).message);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw damaged("not a JSON object");
  const c = parsed as Partial<Checkpoint>;
  if (typeof c.positions === "object" && c.positions !== null)
    return { ...c, positions: c.positions, committed: c.committed ?? {} }; // lines, tails, repairing as kept
  return { positions: parsed as Record<string, string>, committed: {} };
}

/** Whether stream record `sequence` is at or before `last` (decimal strings of up to 40 digits). */
function notAfter(sequence: string | undefined, last: string): boolean {
  return /^\d+$/.test(sequence ?? "") && BigInt(sequence as string) <= BigInt(last);
}

/** A stream record from the Streams API in the shape Lambda delivers it. */
function asLambdaRecord(r: _Record, streamArn: string): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  return {
    eventID: r.eventID,
    eventName: r.eventName as DynamoDBRecord["eventName"],
    eventVersion: r.eventVersion,
    eventSource: r.eventSource,
    awsRegion: r.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      ApproximateCreationDateTime: d.ApproximateCreationDateTime
        ? d.ApproximateCreationDateTime.getTime() / 1000
        : undefined,
      Keys: d.Keys as never,
      NewImage: d.NewImage as never,
      OldImage: d.OldImage as never,
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType as never,
    },
  };
}

/** The stream's records, a page at a time, from after `after` (or the oldest it holds), in the shape Lambda gets. */
async function* pagesOf(
  streams: DynamoDBStreamsClient,
  streamArn: string,
  shardId: string | undefined,
  after: string | undefined,
  batchSize: number,
): AsyncGenerator<DynamoDBRecord[]> {
  let iterator = (
    await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: after ? "AFTER_SEQUENCE_NUMBER" : "TRIM_HORIZON",
        SequenceNumber: after,
      }),
    )
  ).ShardIterator;
  while (iterator) {
    const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: batchSize }));
    const records = (page.Records ?? []).map((r) => asLambdaRecord(r, streamArn));
    if (records.length === 0) return;
    yield records;
    iterator = page.NextShardIterator;
  }
}

/**
 * The table's latest stream, as DescribeTable's LatestStreamArn names it, from ListStreams: DynamoDB Local's
 * DescribeTable counts the table's items (0.1-0.2 s on the sample's, growing with the table), ListStreams does not.
 * A stream disabled keeps its ARN, one enabled again or a table created again has a later label (UTC timestamps of
 * one form, so they sort as text). One difference: ListStreams still lists a deleted table's streams, where
 * DescribeTable would fail; the tables are created whenever the folder is opened, so none is missing here.
 */
async function latestStreamOf(streams: DynamoDBStreamsClient, tableName: string): Promise<string> {
  const arns: { arn: string; label: string }[] = [];
  let start: string | undefined;
  do {
    const page = await streams.send(new ListStreamsCommand({ TableName: tableName, ExclusiveStartStreamArn: start }));
    for (const stream of page.Streams ?? [])
      if (stream.StreamArn && stream.TableName === tableName)
        arns.push({ arn: stream.StreamArn, label: stream.StreamLabel ?? "" });
    start = page.LastEvaluatedStreamArn;
  } while (start);
  // Labels are timestamps of one form (ISO 8601): the latest sorts last.
  const latest = arns.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0)).at(-1);
  if (!latest) throw new Error(`table ${tableName} has no stream`);
  return latest.arn;
}

/**
 * Reads a table's stream from where the last read stopped, as an event source mapping does, and feeds it to the
 * handler in batches. The position (last sequence number per shard) is kept in `checkpointFile`, so a second run
 * does not republish old records. Stops at a page with a failed record (it is delivered again, whole, next time).
 * Returns how many records were handled and how many failed, and the repairs it made; `onCommitted` hears of each
 * page's records once they are committed, so that a caller can count what went out before a later page threw.
 *
 * `outputs` are the files the handler appends to (the local bus's events, the parked records), held to what
 * committed pages wrote (`DrainOutputs`): a page appended by a process that died before committing it is appended
 * again, once, no line is left torn, and an output found shorter than committed (cut short, removed) is repaired
 * first, by reading the stream again from its oldest record up to the committed positions.
 */
export async function drainStream(
  endpoint: string,
  tableName: string,
  checkpointFile: string,
  handle: RecordBatchHandler,
  options: { batchSize?: number; outputs?: readonly DrainOutput[]; onCommitted?: (records: number) => void } = {},
): Promise<{ handled: number; failed: number; repairs: Repair[] }> {
  const { batchSize = 500, outputs = [] } = options;
  const checkpoint = readCheckpoint(checkpointFile);
  const write = () => {
    const temp = `${checkpointFile}.tmp`;
    const fd = openSync(temp, "w");
    try {
      writeSync(fd, JSON.stringify(checkpoint, null, 2));
      fsyncSync(fd); // on disk before it replaces the last one
    } finally {
      closeSync(fd);
    }
    renameSync(temp, checkpointFile);
  };
  const files = new DrainOutputs(outputs, checkpoint);
  files.settle();
  write();

  const streams = new DynamoDBStreamsClient(localClientConfig(endpoint));
  try {
    const streamArn = await latestStreamOf(streams, tableName);
    const shards: Shard[] = [];
    let startShard: string | undefined;
    do {
      const page = await streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: startShard }),
      );
      shards.push(...(page.StreamDescription?.Shards ?? []));
      startShard = page.StreamDescription?.LastEvaluatedShardId;
    } while (startShard);
    const pages = (shardId: string | undefined, after?: string) =>
      pagesOf(streams, streamArn, shardId, after, batchSize);

    /** Reads the stream again into the outputs up to the committed positions (`DrainOutputs.finishRepair`). */
    const repairs: Repair[] = [];
    const repair = async () => {
      // With no positions committed (the checkpoint moved away), the whole stream, and the positions become where
      // it ends.
      const adopting = Object.keys(checkpoint.positions).length === 0;
      const reached: Record<string, string> = {};
      for (const shard of shards) {
        const key = `${streamArn}|${shard.ShardId}`;
        const last = checkpoint.positions[key];
        if (last === undefined && !adopting) continue; // nothing of this shard was published
        for await (const page of pages(shard.ShardId)) {
          const records = last === undefined ? page : page.filter((r) => notAfter(r.dynamodb?.SequenceNumber, last));
          if (records.length > 0 && (await handle(records)).length > 0)
            throw new Error(`publishing the stream again to repair ${outputs.map((o) => o.path).join(", ")} failed`);
          const end = records[records.length - 1]?.dynamodb?.SequenceNumber;
          if (end) reached[key] = end;
          if (records.length < page.length) break;
        }
      }
      repairs.push(...files.finishRepair());
      if (adopting) Object.assign(checkpoint.positions, reached);
      write();
    };
    if (files.repairDue) await repair();
    let handled = 0;
    for (const shard of shards) {
      const key = `${streamArn}|${shard.ShardId}`;
      for await (const records of pages(shard.ShardId, checkpoint.positions[key])) {
        const failed = new Set(await handle(records));
        const firstFailed = records.findIndex((r) => failed.has(r.dynamodb?.SequenceNumber ?? ""));
        if (firstFailed !== -1) {
          files.rollback(); // the page comes again whole: what it appended is appended again, once
          write();
          return { handled, failed: records.length - firstFailed, repairs };
        }
        files.commit(); // an output cut short or replaced meanwhile is marked for a repair
        checkpoint.positions[key] = records[records.length - 1]?.dynamodb?.SequenceNumber ?? "";
        write();
        handled += records.length;
        options.onCommitted?.(records.length); // counted as it is committed, even if a later page throws
        if (files.repairDue) await repair();
      }
    }
    return { handled, failed: 0, repairs };
  } finally {
    streams.destroy();
  }
}
