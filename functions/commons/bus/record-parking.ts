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

/** On AWS: the publisher's dead-letter queue, beside the coordinates the event source mapping sends there. */
export class SqsRecordParking implements RecordParking {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async park(record: DynamoDBRecord, reason: string): Promise<void> {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: parkedMessage(record, reason) }),
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
