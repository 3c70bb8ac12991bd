import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
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
import { localClientConfig } from "./dynamodb-local";

/** Handles a batch of stream records as the Lambda event source mapping would; returns the failed sequence numbers. */
export type RecordBatchHandler = (records: DynamoDBRecord[]) => Promise<string[]>;

type Checkpoint = Record<string, string>; // `${streamArn}|${shardId}` → last sequence number handled

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
 */
export async function drainStream(
  endpoint: string,
  client: DynamoDBClient,
  tableName: string,
  checkpointFile: string,
  handle: RecordBatchHandler,
  batchSize = 500,
): Promise<{ handled: number; failed: number }> {
  const streams = new DynamoDBStreamsClient(localClientConfig(endpoint));
  const checkpoint: Checkpoint = existsSync(checkpointFile) ? JSON.parse(readFileSync(checkpointFile, "utf8")) : {};
  const save = () => {
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
      const after = checkpoint[key];
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
        if (last) checkpoint[key] = last;
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
