import { join } from "node:path";
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { FileBus } from "../../functions/commons/bus/event-bus";
import { FileRecordParking } from "../../functions/commons/bus/record-parking";
import { createTables } from "../../functions/commons/dynamodb/create-tables";
import type { DynamoDbRefundStore, TableNames } from "../../functions/commons/dynamodb/dynamodb-refund-store";
import { cannotWrite, LocalStateError } from "../usage-error";
import { diskFullError } from "./disk-space";
import { type DynamoDbLocal, localClientConfig, startDynamoDbLocal } from "./dynamodb-local";
import { FOLDER_LOCK, type FolderHolder, FolderInUseError, lockFolder } from "./folder-lock";
import { LocalRefundStore } from "./local-refund-store";
import { localLambdaContext } from "./local-run-files";
import { describeRepair, drainStream, type Repair } from "./local-stream-reader";

export { FolderInUseError } from "./folder-lock";

export const LOCAL_TABLES: TableNames = { refunds: "hiwari-refunds", runs: "hiwari-runs" };

/** The embedded default: DynamoDB Local with its data under the state folder, the tables, the store. */
export interface LocalEnvironment {
  db: DynamoDbLocal;
  store: DynamoDbRefundStore;
  eventsFile: string;
  /**
   * Feeds the refunds table's stream (from where it was left) to the publish-events handler; `onCommitted` hears of
   * each page's records once they are appended and committed (a pass that throws later has still published them).
   */
  publishPending(
    onCommitted?: (records: number) => void,
  ): Promise<{ handled: number; failed: number; repairs: Repair[] }>;
  /** When read through another process's DynamoDB Local (`share`): that process's pid. */
  holder?: number;
  stop(): Promise<void>;
}

/**
 * The environment of a folder another live process holds, through that process's DynamoDB Local: to read (runs,
 * report) while a run goes. It publishes nothing (the holder does) and stops nothing but its own client.
 */
async function sharedEnvironment(
  stateDir: string,
  holder: FolderHolder & { endpoint: string },
): Promise<LocalEnvironment> {
  const client = new DynamoDBClient(localClientConfig(holder.endpoint));
  // One try, at once: is the instance at that endpoint answering, and is it this folder's?
  const probe = new DynamoDBClient({ ...localClientConfig(holder.endpoint), maxAttempts: 1 });
  try {
    // A holder of an earlier version announced the refunds table's creation time (`tablesCreated`).
    const [name, announced] =
      holder.runsTableCreated === undefined
        ? [LOCAL_TABLES.refunds, holder.tablesCreated]
        : [LOCAL_TABLES.runs, holder.runsTableCreated];
    const table = await probe.send(new DescribeTableCommand({ TableName: name }));
    if (table.Table?.CreationDateTime?.getTime() !== announced) throw new Error("another folder's tables");
  } catch (e) {
    client.destroy();
    throw new LocalStateError(
      `${stateDir} is held by pid ${holder.pid} (its lock, since ${holder.since}), but the DynamoDB Local it ` +
        `names at ${holder.endpoint} is not this folder's (${(e as Error).message}): if no hiwari process works on ` +
        `${stateDir} (the pid may be another process's since a restart), remove ${join(stateDir, FOLDER_LOCK)}`,
      { cause: e },
    );
  } finally {
    probe.destroy();
  }
  const stop = async () => client.destroy();
  return {
    db: { endpoint: holder.endpoint, client, died: () => undefined, stop },
    store: new LocalRefundStore(client, LOCAL_TABLES, stateDir),
    eventsFile: join(stateDir, "events.jsonl"),
    publishPending: async () => ({ handled: 0, failed: 0, repairs: [] }),
    holder: holder.pid,
    stop,
  };
}

/**
 * The error to show when a command reading through another process's DynamoDB Local (`share`) lost it (the holder
 * finished and stopped it, or was killed), else undefined.
 */
export function holderGone(env: LocalEnvironment, stateDir: string, error: unknown): LocalStateError | undefined {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  const lost = code === "ECONNREFUSED" || code === "ECONNRESET" || name === "TimeoutError";
  if (env.holder === undefined || !lost) return undefined;
  return new LocalStateError(
    `the hiwari process (pid ${env.holder}) holding ${stateDir} stopped its DynamoDB Local while this command ` +
      `read through it (${(error as Error).message}): run the command again`,
    { cause: error },
  );
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
      const unwritable = cannotWrite("--state", stateDir, e);
      if (unwritable) throw unwritable;
      if (!options.share || !(e instanceof FolderInUseError)) throw e;
      const { endpoint } = e.holder;
      if (endpoint) return sharedEnvironment(stateDir, { ...e.holder, endpoint });
      if (Date.now() > deadline)
        throw new LocalStateError(
          `${stateDir} is held by a hiwari process still starting (pid ${e.holder.pid}, since ${e.holder.since}): ` +
            `its DynamoDB Local did not answer within ${STARTING_HOLDER_MS / 1000} s; try again in a moment`,
          { cause: e },
        );
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
    // The runs table's: DynamoDB Local's DescribeTable counts a table's items, 0.1-0.2 s on the sample's refunds
    // table and growing with it; the runs table holds runs and batches (and, in a folder an earlier version used,
    // its runs' books), far fewer items.
    const runs = await db.client.send(new DescribeTableCommand({ TableName: LOCAL_TABLES.runs }));
    lock.announce({ endpoint: db.endpoint, runsTableCreated: runs.Table?.CreationDateTime?.getTime() });
  } catch (e) {
    await db.stop();
    unlockFolder();
    throw e;
  }
  const eventsFile = join(stateDir, "events.jsonl");
  return {
    db,
    store: new LocalRefundStore(db.client, LOCAL_TABLES, stateDir),
    eventsFile,
    publishPending: async (onCommitted?: (records: number) => void) => {
      // The same handler as on AWS; only its adapters differ: JSON Lines files of this state folder (poison
      // stream records parked whole).
      const parkedFile = join(stateDir, "parked-records.jsonl");
      const { makeHandler } = await import("../../functions/publish-events/handler");
      const adapters = { bus: new FileBus(eventsFile), parking: new FileRecordParking(parkedFile) };
      const handler = makeHandler(() => adapters);
      const context = localLambdaContext("publish-events");
      const published = await drainStream(
        db.endpoint,
        LOCAL_TABLES.refunds,
        join(stateDir, "stream-checkpoint.json"),
        async (records: DynamoDBRecord[]) => {
          const response = await handler({ Records: records }, context);
          return (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
        },
        // Committed with each page's position: a page appended by a process that died is appended again, once;
        // a file cut short or removed is repaired from the stream.
        {
          onCommitted,
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

/**
 * Runs `use` on the state folder's environment and stops it after; errors the user can act on are named: a full
 * disk, or the run whose DynamoDB Local a reader went through (`share`) having stopped it.
 */
export async function withLocalEnvironment<T>(
  state: string,
  share: boolean,
  use: (env: LocalEnvironment) => Promise<T>,
): Promise<T> {
  const named = (e: unknown, env?: LocalEnvironment) =>
    (env && holderGone(env, state, e)) ?? diskFullError(e, state, "run the command again") ?? e;
  const env = await openLocalEnvironment(state, { share }).catch((e: unknown) => {
    throw named(e);
  });
  try {
    return await use(env);
  } catch (e) {
    throw named(e, env);
  } finally {
    await env.stop();
  }
}
