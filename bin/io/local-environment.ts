import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { FileBus } from "../../functions/commons/bus/event-bus";
import { FileRecordParking } from "../../functions/commons/bus/record-parking";
import { createTables } from "../../functions/commons/dynamodb/create-tables";
import { DynamoDbRefundStore, type TableNames } from "../../functions/commons/dynamodb/dynamodb-refund-store";
import { LocalStateError } from "../usage-error";
import { type DynamoDbLocal, localClientConfig, startDynamoDbLocal } from "./dynamodb-local";
import { localLambdaContext } from "./local-run-files";
import { describeRepair, drainStream, type Repair } from "./local-stream-reader";

export const LOCAL_TABLES: TableNames = { refunds: "hiwari-refunds", runs: "hiwari-runs" };

/** The embedded default: DynamoDB Local with its data under the state folder, the tables, the store. */
export interface LocalEnvironment {
  db: DynamoDbLocal;
  store: DynamoDbRefundStore;
  eventsFile: string;
  /** Feeds the refunds table's stream (from where it was left) to the publish-events handler. */
  publishPending(): Promise<{ handled: number; failed: number; repairs: Repair[] }>;
  stop(): Promise<void>;
}

/** The state folder's lock: one hiwari process (and so one DynamoDB Local) a folder at a time. */
const FOLDER_LOCK = "hiwari.lock";

/** What the lock holds: its process, since when, and (once it answers) the endpoint of its DynamoDB Local. */
interface FolderHolder {
  pid?: number;
  since?: string;
  endpoint?: string;
}

/** The folder is another live process's. */
export class FolderInUseError extends LocalStateError {
  constructor(
    stateDir: string,
    readonly holder: FolderHolder,
  ) {
    super(
      `${stateDir} is in use by another hiwari process (pid ${holder.pid}, since ${holder.since}): wait for it ` +
        `to finish, or stop it; if no such process is hiwari, remove ${join(stateDir, FOLDER_LOCK)}`,
    );
    this.name = "FolderInUseError";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // someone else's process, alive
  }
}

/**
 * Takes the state folder for this process: `<state>/hiwari.lock`, created exclusively, holds its pid (and later
 * its DynamoDB Local's endpoint). A lock whose process is gone (killed) is taken over; one whose process lives is
 * refused at once (FolderInUseError, naming the folder and the pid: two DynamoDB Locals on one data file block each
 * other). Returns how to announce the endpoint, and the release.
 */
function lockFolder(stateDir: string): { announce(endpoint: string): void; release(): void } {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, FOLDER_LOCK);
  const mine: FolderHolder = { pid: process.pid, since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(mine)}\n`, { flag: "wx" });
      return {
        announce: (endpoint) => {
          writeFileSync(`${path}.tmp`, `${JSON.stringify({ ...mine, endpoint })}\n`);
          renameSync(`${path}.tmp`, path);
        },
        release: () => rmSync(path, { force: true }),
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
    }
    let holder: FolderHolder = {};
    try {
      holder = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      // torn or empty: its writer died while writing it
    }
    if (typeof holder.pid === "number" && alive(holder.pid)) throw new FolderInUseError(stateDir, holder);
    rmSync(path, { force: true }); // its process is gone: take the folder over
  }
}

/**
 * The environment of a folder another live process holds, through that process's DynamoDB Local: to read (runs,
 * report) while a run goes. It publishes nothing (the holder does) and stops nothing but its own client.
 */
async function sharedEnvironment(
  stateDir: string,
  holder: FolderHolder & { endpoint: string },
): Promise<LocalEnvironment> {
  const client = new DynamoDBClient({ ...localClientConfig(holder.endpoint), maxAttempts: 1 });
  try {
    await client.send(new ListTablesCommand({}));
  } catch (e) {
    client.destroy();
    throw new LocalStateError(
      `${stateDir} is in use by another hiwari process (pid ${holder.pid}), whose DynamoDB Local at ` +
        `${holder.endpoint} did not answer (${(e as Error).message}): try again once it has finished`,
    );
  }
  const stop = async () => client.destroy();
  return {
    db: { endpoint: holder.endpoint, client, died: () => undefined, stop },
    store: new DynamoDbRefundStore(client, LOCAL_TABLES),
    eventsFile: join(stateDir, "events.jsonl"),
    publishPending: async () => ({ handled: 0, failed: 0, repairs: [] }),
    stop,
  };
}

/** How long a reader waits for a holder that is still starting its DynamoDB Local to announce its endpoint. */
const STARTING_HOLDER_MS = 30_000;

/**
 * The state folder's DynamoDB Local, started under it for this process (which holds the folder until `stop`). With
 * `share` (commands that only read), a folder another live process holds is read through that process's DynamoDB
 * Local instead of being refused.
 */
export async function openLocalEnvironment(
  stateDir: string,
  options: { share?: boolean } = {},
): Promise<LocalEnvironment> {
  let lock: ReturnType<typeof lockFolder>;
  for (const deadline = Date.now() + STARTING_HOLDER_MS; ; ) {
    try {
      lock = lockFolder(stateDir);
      break;
    } catch (e) {
      if (!options.share || !(e instanceof FolderInUseError)) throw e;
      const { endpoint } = e.holder;
      if (endpoint) return sharedEnvironment(stateDir, { ...e.holder, endpoint });
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200)); // the holder is starting its DynamoDB Local
    }
  }
  const unlockFolder = lock.release;
  let db: DynamoDbLocal;
  try {
    db = await startDynamoDbLocal(join(stateDir, "dynamodb"));
  } catch (e) {
    unlockFolder();
    throw e;
  }
  try {
    await createTables(db.client, LOCAL_TABLES);
    lock.announce(db.endpoint);
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
      const published = await drainStream(
        db.endpoint,
        db.client,
        LOCAL_TABLES.refunds,
        join(stateDir, "stream-checkpoint.json"),
        async (records: DynamoDBRecord[]) => {
          const response = await handler({ Records: records }, context);
          return (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
        },
        // Committed with each page's position: a page appended by a process that died is appended again, once;
        // a file cut short or removed is repaired from the stream.
        {
          outputs: [
            { path: eventsFile, idOf: (line) => (JSON.parse(line) as { detail: { eventId: string } }).detail.eventId },
            { path: parkedFile, idOf: (line) => (JSON.parse(line) as { record: { eventID: string } }).record.eventID },
          ],
        },
      );
      for (const repair of published.repairs) process.stderr.write(`hiwari: ${describeRepair(repair)}\n`);
      return published;
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
