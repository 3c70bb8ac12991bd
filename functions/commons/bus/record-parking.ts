import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBRecord } from "aws-lambda";

/**
 * Where publish-events puts a stream record it can never turn into an event (a poison record: an item of an
 * unknown kind, an image that does not read as a line; a defect, not a fault). Retrying it would hold its shard
 * until the stream drops it, with every record after it; parked whole, with its images, it waits for the fix and
 * can be republished exactly (docs/operations.md). Records that fail for a passing reason are never parked: they
 * wait in the stream.
 */
export interface RecordParking {
  park(record: DynamoDBRecord, reason: string): Promise<void>;
}

/** The message a parked record becomes: what it is, why it is here, the record as delivered. */
export const parkedMessage = (record: DynamoDBRecord, reason: string) =>
  JSON.stringify({ parked: "poison stream record", reason, record });

/** SQS's largest message: 256 KiB. */
export const SQS_MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * The message a record is parked as in SQS: whole when it fits, else (a record whose event EventBridge refused for
 * its size is as large) without its images (then, if still too large, without its keys): its line is read from the
 * table by its keys, or by its stream coordinates, and republished as docs/operations.md says.
 */
export function sqsParkedMessage(record: DynamoDBRecord, reason: string): string {
  const whole = parkedMessage(record, reason);
  const size = Buffer.byteLength(whole, "utf8");
  if (size <= SQS_MAX_MESSAGE_BYTES) return whole;
  const { NewImage: _n, OldImage: _o, ...rest } = record.dynamodb ?? {};
  const omitted = `the record was ${size} bytes with its images, over SQS's ${SQS_MAX_MESSAGE_BYTES}`;
  const withKeys = JSON.stringify({
    parked: "poison stream record",
    reason,
    omitted,
    record: { ...record, dynamodb: rest },
  });
  if (Buffer.byteLength(withKeys, "utf8") <= SQS_MAX_MESSAGE_BYTES) return withKeys;
  const { Keys: _k, ...coordinates } = rest;
  return JSON.stringify({
    parked: "poison stream record",
    reason: reason.slice(0, 1000),
    omitted: `${omitted}, and its keys too`,
    record: { eventID: record.eventID, eventName: record.eventName, dynamodb: coordinates },
  });
}

/** On AWS: the publisher's dead-letter queue, beside the coordinates the event source mapping sends there. */
export class SqsRecordParking implements RecordParking {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async park(record: DynamoDBRecord, reason: string): Promise<void> {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: sqsParkedMessage(record, reason) }),
    );
  }
}

/** Under `hiwari run`: a JSON Lines file in the state folder. */
export class FileRecordParking implements RecordParking {
  constructor(private readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  async park(record: DynamoDBRecord, reason: string): Promise<void> {
    appendFileSync(this.path, `${parkedMessage(record, reason)}\n`);
  }
}
