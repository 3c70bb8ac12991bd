import { join } from "node:path";
import type { DynamoDBRecord } from "aws-lambda";
import { FileBus } from "../../functions/commons/bus/event-bus";
import { FileRecordParking } from "../../functions/commons/bus/record-parking";
import { createTables } from "../../functions/commons/dynamodb/create-tables";
import { DynamoDbRefundStore, type TableNames } from "../../functions/commons/dynamodb/dynamodb-refund-store";
import { type DynamoDbLocal, startDynamoDbLocal } from "./dynamodb-local";
import { localLambdaContext } from "./local-run-files";
import { drainStream } from "./local-stream-reader";

export const LOCAL_TABLES: TableNames = { refunds: "hiwari-refunds", runs: "hiwari-runs" };

/** The embedded default: DynamoDB Local with its data under the state folder, the tables, the store. */
export interface LocalEnvironment {
  db: DynamoDbLocal;
  store: DynamoDbRefundStore;
  eventsFile: string;
  /** Feeds the refunds table's stream (from where it was left) to the publish-events handler. */
  publishPending(): Promise<{ handled: number; failed: number }>;
  stop(): Promise<void>;
}

export async function openLocalEnvironment(stateDir: string): Promise<LocalEnvironment> {
  const db = await startDynamoDbLocal(join(stateDir, "dynamodb"));
  try {
    await createTables(db.client, LOCAL_TABLES);
  } catch (e) {
    await db.stop();
    throw e;
  }
  const eventsFile = join(stateDir, "events.jsonl");
  return {
    db,
    store: new DynamoDbRefundStore(db.client, LOCAL_TABLES),
    eventsFile,
    publishPending: async () => {
      // The same handler as on AWS; only its adapters differ: JSON Lines files of this state folder (poison
      // stream records parked whole).
      const parkedFile = join(stateDir, "parked-records.jsonl");
      const { makeHandler } = await import("../../functions/publish-events/handler");
      const adapters = { bus: new FileBus(eventsFile), parking: new FileRecordParking(parkedFile) };
      const handler = makeHandler(() => adapters);
      const context = localLambdaContext("publish-events");
      return drainStream(
        db.endpoint,
        db.client,
        LOCAL_TABLES.refunds,
        join(stateDir, "stream-checkpoint.json"),
        async (records: DynamoDBRecord[]) => {
          const response = await handler({ Records: records }, context);
          return (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
        },
        // Committed with each page's position: a page appended by a process that died is appended again, once.
        { outputs: [eventsFile, parkedFile] },
      );
    },
    stop: () => db.stop(),
  };
}
