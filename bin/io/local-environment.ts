import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DynamoDBRecord } from "aws-lambda";
import { FileBus } from "../../functions/commons/bus/event-bus";
import { FileRecordParking } from "../../functions/commons/bus/record-parking";
import { createTables } from "../../functions/commons/dynamodb/create-tables";
import { DynamoDbRefundStore, type TableNames } from "../../functions/commons/dynamodb/dynamodb-refund-store";
import { LocalStateError } from "../usage-error";
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

/** The state folder's lock: one hiwari process (and so one DynamoDB Local) a folder at a time. */
const FOLDER_LOCK = "hiwari.lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // someone else's process, alive
  }
}

/**
 * Takes the state folder for this process: `<state>/hiwari.lock`, created exclusively, holds its pid. A lock whose
 * process is gone (killed) is taken over; one whose process lives is refused at once, naming the folder and the
 * pid (two DynamoDB Locals on one data file block each other). Returns its release.
 */
function lockFolder(stateDir: string): () => void {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, FOLDER_LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify({ pid: process.pid, since: new Date().toISOString() })}\n`, { flag: "wx" });
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
    }
    let holder: { pid?: number; since?: string } = {};
    try {
      holder = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      // torn or empty: its writer died while writing it
    }
    if (typeof holder.pid === "number" && alive(holder.pid))
      throw new LocalStateError(
        `${stateDir} is in use by another hiwari process (pid ${holder.pid}, since ${holder.since}): wait for it ` +
          `to finish, or stop it; if no such process is hiwari, remove ${path}`,
      );
    rmSync(path, { force: true }); // its process is gone: take the folder over
  }
}

export async function openLocalEnvironment(stateDir: string): Promise<LocalEnvironment> {
  const unlockFolder = lockFolder(stateDir);
  let db: DynamoDbLocal;
  try {
    db = await startDynamoDbLocal(join(stateDir, "dynamodb"));
  } catch (e) {
    unlockFolder();
    throw e;
  }
  try {
    await createTables(db.client, LOCAL_TABLES);
  } catch (e) {
    await db.stop();
    unlockFolder();
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
    stop: async () => {
      try {
        await db.stop();
      } finally {
        unlockFolder();
      }
    },
  };
}
