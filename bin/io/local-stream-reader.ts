import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { basename } from "node:path";
import { DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
} from "@aws-sdk/client-dynamodb-streams";
import type { DynamoDBRecord } from "aws-lambda";
import { LocalStateError } from "../usage-error";
import { localClientConfig } from "./dynamodb-local";

/** Handles a batch of stream records as the Lambda event source mapping would; returns the failed sequence numbers. */
export type RecordBatchHandler = (records: DynamoDBRecord[]) => Promise<string[]>;

/**
 * Where the stream was left, and the files its handler appends to as they stood then: each page's position and
 * the outputs' lengths are committed together, in one atomic rename, so that whatever moment the process dies,
 * the next drain knows which bytes of each output belong to committed pages.
 */
interface Checkpoint {
  /** `${streamArn}|${shardId}` → last sequence number handled. */
  positions: Record<string, string>;
  /** Output file (its name) → its length in bytes when the position was committed. */
  committed: Record<string, number>;
}

/** Thrown for a state file that cannot be what hiwari left: the message names it and says how to recover. */
export class DamagedStateError extends LocalStateError {
  constructor(message: string) {
    super(message);
    this.name = "DamagedStateError";
  }
}

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
    return { positions: c.positions, committed: c.committed ?? {} };
  return { positions: parsed as Record<string, string>, committed: {} };
}

/** The length of `file` up to the end of its last whole line (a line cut short by a kill ends without "\n"). */
function wholeLinesLength(file: string): number {
  const size = statSync(file).size;
  const fd = openSync(file, "r");
  try {
    const chunk = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - chunk.length);
      readSync(fd, chunk, 0, end - start, start);
      const at = chunk.subarray(0, end - start).lastIndexOf(0x0a);
      if (at !== -1) return start + at + 1;
      end = start;
    }
    return 0;
  } finally {
    closeSync(fd);
  }
}

/**
 * Brings each output back to what committed pages wrote: bytes past its committed length are a page appended but
 * not committed (the process died in between, or inside the append, or the disk filled): cut, to be appended
 * again by the page's drain. A file shorter than committed lost events: refused, named. With no length committed
 * (a checkpoint from before lengths were kept, or none yet), a line cut short at the end is cut.
 */
function settleOutputs(outputs: readonly string[], checkpoint: Checkpoint, checkpointFile: string): void {
  for (const file of outputs) {
    const size = existsSync(file) ? statSync(file).size : 0;
    const committed = checkpoint.committed[basename(file)];
    if (committed === undefined) {
      if (size > 0) truncateSync(file, wholeLinesLength(file));
    } else if (size > committed) truncateSync(file, committed);
    else if (size < committed)
      throw new DamagedStateError(
        `${file}: holds ${size.toLocaleString("en-US")} bytes where ${committed.toLocaleString("en-US")} were ` +
          `published (${checkpointFile}): it was cut short, replaced or removed, and the events it lost would not ` +
          `be written again. Restore it from a backup, or move it and the checkpoint away to ${REPUBLISH}`,
      );
  }
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

/**
 * Reads a table's stream from where the last read stopped, as an event source mapping does, and feeds it to the
 * handler in batches. The position (last sequence number per shard) is kept in `checkpointFile`, so a second run
 * does not republish old records. Stops at the first failed record of a batch (Lambda retries from there).
 * Returns how many records were handled and how many failed.
 *
 * `outputs` are the files the handler appends to (the local bus's events, the parked records): their lengths are
 * committed with each page's position, and before reading, each is brought back to its committed length, so that
 * a page appended by a process that died before committing it is appended again, once, and no line is left torn.
 */
export async function drainStream(
  endpoint: string,
  client: DynamoDBClient,
  tableName: string,
  checkpointFile: string,
  handle: RecordBatchHandler,
  options: { batchSize?: number; outputs?: readonly string[] } = {},
): Promise<{ handled: number; failed: number }> {
  const { batchSize = 500, outputs = [] } = options;
  const checkpoint = readCheckpoint(checkpointFile);
  settleOutputs(outputs, checkpoint, checkpointFile);
  const streams = new DynamoDBStreamsClient(localClientConfig(endpoint));
  const save = () => {
    for (const file of outputs) checkpoint.committed[basename(file)] = existsSync(file) ? statSync(file).size : 0;
    writeFileSync(`${checkpointFile}.tmp`, JSON.stringify(checkpoint, null, 2));
    renameSync(`${checkpointFile}.tmp`, checkpointFile);
  };
  try {
    const table = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const streamArn = table.Table?.LatestStreamArn;
    if (!streamArn) throw new Error(`table ${tableName} has no stream`);
    const shards: Shard[] = [];
    let startShard: string | undefined;
    do {
      const page = await streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: startShard }),
      );
      shards.push(...(page.StreamDescription?.Shards ?? []));
      startShard = page.StreamDescription?.LastEvaluatedShardId;
    } while (startShard);

    let handled = 0;
    for (const shard of shards) {
      const key = `${streamArn}|${shard.ShardId}`;
      const after = checkpoint.positions[key];
      let iterator = (
        await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shard.ShardId,
            ShardIteratorType: after ? "AFTER_SEQUENCE_NUMBER" : "TRIM_HORIZON",
            SequenceNumber: after,
          }),
        )
      ).ShardIterator;
      while (iterator) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: batchSize }));
        const records = (page.Records ?? []).map((r) => asLambdaRecord(r, streamArn));
        if (records.length === 0) break;
        const failed = new Set(await handle(records));
        const firstFailed = records.findIndex((r) => failed.has(r.dynamodb?.SequenceNumber ?? ""));
        const done = firstFailed === -1 ? records : records.slice(0, firstFailed);
        const last = done[done.length - 1]?.dynamodb?.SequenceNumber;
        if (last) checkpoint.positions[key] = last;
        handled += done.length;
        save();
        if (firstFailed !== -1) return { handled, failed: records.length - firstFailed };
        iterator = page.NextShardIterator;
      }
    }
    return { handled, failed: 0 };
  } finally {
    streams.destroy();
  }
}
