import {
  appendFileSync,
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
import { DamagedStateError } from "../usage-error";
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
  /** Output file (its name) → how many lines it held then (to tell what a repair could not restore). */
  lines?: Record<string, number>;
  /**
   * A repair under way (a file found shorter than committed): each output's length before the stream was read
   * again into it. A process that dies during the repair leaves this; the next drain cuts back to it and repairs
   * again, so that the repair's own appends are never taken for committed ones.
   */
  repairing?: Record<string, number>;
}

/** A file the handler appends to, one JSON line per item, and the identity of a line (an event's eventId). */
export interface DrainOutput {
  path: string;
  idOf(line: string): string;
}

/** A file found shorter than what was published, and what reading the stream again gave back. */
export interface Repair {
  file: string;
  /** Lines appended again from the stream. */
  restored: number;
  /** Lines published before that the stream no longer held (it keeps 24 hours); undefined when not known. */
  missing: number | undefined;
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
    return { positions: c.positions, committed: c.committed ?? {}, lines: c.lines, repairing: c.repairing };
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
 * again by the page's drain. With no length committed (a checkpoint from before lengths were kept, or none yet), a
 * line cut short at the end is cut. Returns the outputs shorter than committed (cut short, replaced or removed:
 * they lost published events), each cut back to its last whole line.
 */
function settleOutputs(outputs: readonly DrainOutput[], checkpoint: Checkpoint): DrainOutput[] {
  const damaged: DrainOutput[] = [];
  for (const output of outputs) {
    const { path } = output;
    const size = existsSync(path) ? statSync(path).size : 0;
    const committed = checkpoint.committed[basename(path)];
    if (committed !== undefined && size > committed) truncateSync(path, committed);
    else if (committed !== undefined && size < committed) damaged.push(output);
    if ((committed === undefined || size < committed) && size > 0) truncateSync(path, wholeLinesLength(path));
  }
  return damaged;
}

/** The lines of `file` between bytes `from` and `to` (whole lines: both are 0, a line's end, or the file's end). */
function linesFrom(file: string, from = 0, to = sizeOf(file)): string[] {
  if (to <= from) return [];
  const fd = openSync(file, "r");
  try {
    const bytes = Buffer.alloc(to - from);
    readSync(fd, bytes, 0, bytes.length, from);
    return bytes
      .toString("utf8")
      .split("\n")
      .filter((l) => l !== "");
  } finally {
    closeSync(fd);
  }
}

/** The identity of a line, or the line itself when it is not one the output's idOf reads. */
function identity(output: DrainOutput, line: string): string {
  try {
    return output.idOf(line);
  } catch {
    return line;
  }
}

/** Sequence numbers are decimal strings of up to 40 digits: compared as numbers. */
const notAfter = (sequence: string, last: string) =>
  sequence.length !== last.length ? sequence.length < last.length : sequence <= last;

/** What a repair did, in a sentence for the terminal. */
export function describeRepair({ file, restored, missing }: Repair): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const lost =
    missing === undefined
      ? "how many lines it held before is not known (a checkpoint from an earlier hiwari)"
      : missing === 0
        ? "nothing published is missing from it now"
        : `${n(missing)} lines published before could not be restored: the stream no longer holds them ` +
          "(DynamoDB Local keeps 24 hours); a consumer that read them before has them, the file lacks them for good";
  return `${file} was cut short or removed: ${n(restored)} lines restored from the table's stream and appended; ${lost}`;
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
 * Reads a table's stream from where the last read stopped, as an event source mapping does, and feeds it to the
 * handler in batches. The position (last sequence number per shard) is kept in `checkpointFile`, so a second run
 * does not republish old records. Stops at the first failed record of a batch (Lambda retries from there).
 * Returns how many records were handled and how many failed, and the repairs it made.
 *
 * `outputs` are the files the handler appends to (the local bus's events, the parked records): their lengths and
 * line counts are committed with each page's position, and before reading, each is brought back to its committed
 * length, so that a page appended by a process that died before committing it is appended again, once, and no
 * line is left torn. An output found shorter than committed (cut short, removed) is repaired from the stream
 * first (`repairOutputs`).
 */
export async function drainStream(
  endpoint: string,
  client: DynamoDBClient,
  tableName: string,
  checkpointFile: string,
  handle: RecordBatchHandler,
  options: { batchSize?: number; outputs?: readonly DrainOutput[] } = {},
): Promise<{ handled: number; failed: number; repairs: Repair[] }> {
  const { batchSize = 500, outputs = [] } = options;
  const checkpoint = readCheckpoint(checkpointFile);
  const write = () => {
    writeFileSync(`${checkpointFile}.tmp`, JSON.stringify(checkpoint, null, 2));
    renameSync(`${checkpointFile}.tmp`, checkpointFile);
  };
  if (checkpoint.repairing) {
    // A repair that did not finish: back to where it started, to do it again.
    for (const { path } of outputs) {
      const at = checkpoint.repairing[basename(path)];
      if (at !== undefined && sizeOf(path) > at) truncateSync(path, at);
    }
  } else if (settleOutputs(outputs, checkpoint).length > 0) {
    checkpoint.repairing = Object.fromEntries(outputs.map(({ path }) => [basename(path), sizeOf(path)]));
  }
  // Each output's length (and line count) is committed before anything is appended to it (a first drain, or a
  // checkpoint from before lengths were kept): what a first page appends and does not commit is cut like any other.
  const lines: Record<string, number> = {};
  for (const { path } of outputs) {
    const name = basename(path);
    checkpoint.committed[name] ??= sizeOf(path);
    lines[name] =
      checkpoint.lines?.[name] ?? linesFrom(path, 0, Math.min(checkpoint.committed[name], sizeOf(path))).length;
  }
  checkpoint.lines = { ...lines };
  write();
  /** Commits the position with each output's length and line count as the page left them. */
  const commit = () => {
    for (const { path } of outputs) {
      const name = basename(path);
      lines[name] = (lines[name] ?? 0) + linesFrom(path, checkpoint.committed[name]).length;
      checkpoint.committed[name] = sizeOf(path);
    }
    checkpoint.lines = { ...lines };
    write();
  };

  const streams = new DynamoDBStreamsClient(localClientConfig(endpoint));
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
    const pages = (shardId: string | undefined, after: string | undefined) =>
      pagesOf(streams, streamArn, shardId, after, batchSize);

    const repairs: Repair[] = [];
    if (checkpoint.repairing) {
      repairs.push(...(await repairOutputs(outputs, checkpoint, streamArn, shards, pages, handle)));
      Object.assign(lines, checkpoint.lines); // the repaired files' counts
      checkpoint.repairing = undefined;
      write();
    }
    let handled = 0;
    for (const shard of shards) {
      const key = `${streamArn}|${shard.ShardId}`;
      for await (const records of pages(shard.ShardId, checkpoint.positions[key])) {
        const failed = new Set(await handle(records));
        const firstFailed = records.findIndex((r) => failed.has(r.dynamodb?.SequenceNumber ?? ""));
        const done = firstFailed === -1 ? records : records.slice(0, firstFailed);
        const last = done[done.length - 1]?.dynamodb?.SequenceNumber;
        if (last) checkpoint.positions[key] = last;
        handled += done.length;
        commit();
        if (firstFailed !== -1) return { handled, failed: records.length - firstFailed, repairs };
      }
    }
    return { handled, failed: 0, repairs };
  } finally {
    streams.destroy();
  }
}

const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : 0);

/**
 * An output shorter than committed lost published events: the stream is read again, from the oldest record it
 * holds up to the committed positions, through the same handler; of what that appends, only the lines whose
 * identity (eventId) the file does not hold already are kept, after the lines that survived, each once. The
 * committed lengths and line counts are set to the repaired files'. Lines published before that the stream no
 * longer holds (DynamoDB Local keeps 24 hours) are counted as missing: the line count committed before, less the
 * lines the file holds now.
 */
async function repairOutputs(
  outputs: readonly DrainOutput[],
  checkpoint: Checkpoint,
  streamArn: string,
  shards: readonly Shard[],
  pages: (shardId: string | undefined, after: string | undefined) => AsyncGenerator<DynamoDBRecord[]>,
  handle: RecordBatchHandler,
): Promise<Repair[]> {
  const started = checkpoint.repairing ?? {};
  for (const shard of shards) {
    const last = checkpoint.positions[`${streamArn}|${shard.ShardId}`];
    if (last === undefined) continue; // nothing of this shard was published
    for await (const page of pages(shard.ShardId, undefined)) {
      const records = page.filter((r) => notAfter(r.dynamodb?.SequenceNumber ?? "", last));
      if (records.length > 0 && (await handle(records)).length > 0)
        throw new Error(
          `publishing the stream again to repair ${outputs.map((o) => o.path).join(", ")} failed; run again to retry`,
        );
      if (records.length < page.length) break;
    }
  }
  const repairs: Repair[] = [];
  for (const output of outputs) {
    const name = basename(output.path);
    const at = started[name] ?? 0;
    const held = new Set(linesFrom(output.path, 0, at).map((line) => identity(output, line)));
    const again: string[] = [];
    for (const line of linesFrom(output.path, at)) {
      const id = identity(output, line);
      if (held.has(id)) continue; // it survived, or came again already
      held.add(id);
      again.push(line);
    }
    if (existsSync(output.path)) truncateSync(output.path, at);
    if (again.length > 0) appendFileSync(output.path, `${again.join("\n")}\n`);
    const before = checkpoint.lines?.[name];
    if (at < (checkpoint.committed[name] ?? 0))
      repairs.push({
        file: output.path,
        restored: again.length,
        missing: before === undefined ? undefined : Math.max(0, before - held.size),
      });
    checkpoint.committed[name] = sizeOf(output.path);
    checkpoint.lines = { ...checkpoint.lines, [name]: held.size };
  }
  return repairs;
}
