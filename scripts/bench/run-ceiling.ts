/**
 * `npm run bench:write` (second part): `hiwari run` on the sample incident against the raw ceiling of DynamoDB Local,
 * each measured the same way and in the same run, alternately (`--runs N`, default 1; medians):
 *
 * - **first run**: `hiwari run` into a fresh state folder, the whole command's wall time (DynamoDB Local starting,
 *   prepare, batches, finalize, publishing), against **raw BatchWriteItem**: a fresh DynamoDB Local with its data on
 *   disk, the same table definitions (`tableDefinitions`, held to the CDK's by a test), every item the run left in
 *   both tables written back in calls of 25, 16 in flight, timed from starting DynamoDB Local to its stop after the
 *   last write (where a whole command's time ends too).
 * - **previews and reruns**: `hiwari run --dry-run` and an identical rerun (`--reason`) on a copy of the first run's
 *   state, against **raw BatchGetItem** of the keys they must read (every stored line of the incident, 100 a call,
 *   consistent, 16 in flight) on another copy, timed from starting DynamoDB Local to its stop after the last read.
 *
 * Prints seconds and the ratios; no assertion (speed is not a test). `--keep DIR` keeps the states.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
  ScanCommand,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { startDynamoDbLocal } from "../../bin/io/dynamodb-local";
import { LOCAL_TABLES } from "../../bin/io/local-environment";
import { createTables } from "../../functions/commons/dynamodb/create-tables";
import { KEYS } from "../../functions/commons/dynamodb/line-item";
import { eachLimited, median, secondsSince } from "./stats";

type Item = Record<string, never>;
const CONCURRENCY = 16; // the store's
const ROOT = resolve(import.meta.dirname, "../..");
const SAMPLE = {
  incident: join(ROOT, "examples/spmode-2011/incident.json"),
  subscriptions: join(ROOT, "examples/spmode-2011/subscriptions.csv"),
};

/** Where the states and copies go (a temporary folder, or `--keep`). */
let work = "";

const seconds = secondsSince;

/** `hiwari run` with these arguments: its wall time and its progress lines (stderr). */
function hiwariRun(state: string, extra: string[], batchSize?: number): { seconds: number; phases: string } {
  const start = process.hrtime.bigint();
  const done = spawnSync(
    process.execPath,
    [
      join(ROOT, "bin/hiwari.js"),
      "run",
      "--incident",
      SAMPLE.incident,
      "--subscriptions",
      SAMPLE.subscriptions,
      "--state",
      state,
      ...extra,
      ...(batchSize === undefined ? [] : ["--batch-size", String(batchSize)]),
    ],
    { encoding: "utf8", env: { ...process.env, CI: "true" } },
  );
  const took = seconds(start);
  if (done.status !== 0) throw new Error(`hiwari run ${extra.join(" ")} exited ${done.status}: ${done.stderr}`);
  const phases = done.stderr
    .split("\n")
    .filter((l) => / in [\d.]+ s$/.test(l))
    .map((l) => l.replace(/^hiwari run: /, ""))
    .join("; ");
  return { seconds: took, phases };
}

async function scanAll(client: DynamoDBClient, table: string): Promise<Item[]> {
  const out: Item[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    out.push(...((page.Items ?? []) as Item[]));
    start = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start);
  return out;
}

/** Every item of both tables in a state folder (DynamoDB Local opened on a copy: the original stays as it is). */
async function itemsOf(state: string): Promise<Record<string, Item[]>> {
  const copy = join(work, "scan-copy");
  rmSync(copy, { recursive: true, force: true });
  cpSync(join(state, "dynamodb"), copy, { recursive: true });
  const db = await startDynamoDbLocal(copy);
  try {
    return {
      [LOCAL_TABLES.refunds]: await scanAll(db.client, LOCAL_TABLES.refunds),
      [LOCAL_TABLES.runs]: await scanAll(db.client, LOCAL_TABLES.runs),
    };
  } finally {
    await db.stop();
    rmSync(copy, { recursive: true, force: true });
  }
}

/**
 * Raw BatchWriteItem of these items into a fresh DynamoDB Local (data on disk), from its start to its stop after the
 * last write (hiwari's time, a whole command's, ends there too: the folder is not free, nor its data file closed,
 * before DynamoDB Local has stopped).
 */
async function rawWrite(items: Record<string, Item[]>): Promise<number> {
  const dir = join(work, "raw-write");
  rmSync(dir, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  const db = await startDynamoDbLocal(dir);
  try {
    await createTables(db.client, LOCAL_TABLES);
    const chunks: [string, WriteRequest[]][] = [];
    for (const [table, list] of Object.entries(items))
      for (let i = 0; i < list.length; i += 25)
        chunks.push([table, list.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }))]);
    await eachLimited(chunks, CONCURRENCY, async ([table, chunk]) => {
      for (let pending = chunk; pending.length > 0; ) {
        const answer = await db.client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
        pending = answer.UnprocessedItems?.[table] ?? [];
      }
    });
    await db.stop();
    return seconds(start);
  } finally {
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Raw BatchGetItem of these keys on a copy of `state`, from starting DynamoDB Local to its stop after the last read. */
async function rawRead(state: string, keys: Item[]): Promise<number> {
  const dir = join(work, "raw-read");
  rmSync(dir, { recursive: true, force: true });
  cpSync(join(state, "dynamodb"), dir, { recursive: true });
  const start = process.hrtime.bigint();
  const db = await startDynamoDbLocal(dir);
  try {
    const chunks: Item[][] = [];
    for (let i = 0; i < keys.length; i += 100) chunks.push(keys.slice(i, i + 100));
    let read = 0;
    await eachLimited(chunks, CONCURRENCY, async (chunk) => {
      for (let pending = chunk; pending.length > 0; ) {
        const answer = await db.client.send(
          new BatchGetItemCommand({
            RequestItems: { [LOCAL_TABLES.refunds]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        read += answer.Responses?.[LOCAL_TABLES.refunds]?.length ?? 0;
        pending = (answer.UnprocessedKeys?.[LOCAL_TABLES.refunds]?.Keys ?? []) as Item[];
      }
    });
    if (read !== keys.length) throw new Error(`raw BatchGetItem read ${read} of ${keys.length} keys`);
    await db.stop();
    return seconds(start);
  } finally {
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh copy of the first run's state folder, to run a preview or a rerun on. */
function copyOf(state: string, name: string): string {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(state, dir, { recursive: true });
  return dir;
}

/** Measures and prints the table (module doc); `runs` alternate runs each, `keep` a folder to keep the states in. */
export async function runAgainstCeiling(options: { runs: number; keep?: string; batchSize?: number }): Promise<void> {
  const { runs, batchSize } = options;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: must be a positive whole number (got ${runs})`);
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1))
    throw new Error(`--batch-size: must be a positive whole number (got ${batchSize})`);
  work = options.keep ? resolve(options.keep) : mkdtempSync(join(tmpdir(), "hiwari-run-ceiling-"));
  mkdirSync(work, { recursive: true });
  const times: Record<string, number[]> = { run: [], write: [], dry: [], rerun: [], read: [] };
  const phases: Record<string, string> = {};
  let counted = "";
  for (let i = 0; i < runs; i++) {
    const first = join(work, `first-${i}`);
    rmSync(first, { recursive: true, force: true });
    const run = hiwariRun(first, ["--reason", "bench: first run"], batchSize);
    times.run?.push(run.seconds);
    phases.run = run.phases;
    const items = await itemsOf(first);
    const lineKeys = (items[LOCAL_TABLES.refunds] ?? [])
      .filter((item) => (item as Record<string, { S?: string }>)[KEYS.gsi1pk] !== undefined)
      .map((item) => {
        const it = item as Record<string, unknown>;
        return { [KEYS.pk]: it[KEYS.pk], [KEYS.sk]: it[KEYS.sk] } as unknown as Item;
      });
    counted =
      `${Object.values(items)
        .reduce((s, l) => s + l.length, 0)
        .toLocaleString("en-US")} items ` +
      `(${(items[LOCAL_TABLES.refunds] ?? []).length.toLocaleString("en-US")} refunds, ` +
      `${(items[LOCAL_TABLES.runs] ?? []).length.toLocaleString("en-US")} runs); ${lineKeys.length.toLocaleString("en-US")} line keys`;
    times.write?.push(await rawWrite(items));
    // The three reads on copies of one state, in turn: the dry run, the raw read and the rerun, the order turned
    // each round (the first after a copy may meet a colder page cache).
    const reads: Record<string, () => Promise<void>> = {
      dry: async () => {
        const dry = hiwariRun(copyOf(first, "dry"), ["--dry-run", "--reason", "bench: preview"], batchSize);
        times.dry?.push(dry.seconds);
        phases.dry = dry.phases;
      },
      read: async () => {
        times.read?.push(await rawRead(first, lineKeys));
      },
      rerun: async () => {
        const rerun = hiwariRun(copyOf(first, "rerun"), ["--reason", "bench: identical rerun"], batchSize);
        times.rerun?.push(rerun.seconds);
        phases.rerun = rerun.phases;
      },
    };
    const order = ["dry", "read", "rerun"];
    for (let k = 0; k < order.length; k++) await reads[order[(i + k) % order.length] as string]?.();
    if (!options.keep) rmSync(first, { recursive: true, force: true });
  }
  if (!options.keep) rmSync(work, { recursive: true, force: true });

  const m = (k: string) => median(times[k] ?? []);
  const row = (what: string, k: string, base: string) =>
    `| ${what} | ${m(k).toFixed(1)} | ${(times[k] ?? []).map((t) => t.toFixed(1)).join(", ")} | ${(m(k) / m(base)).toFixed(2)}× |\n`;
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  process.stdout.write(
    `\n# hiwari run on the sample (${SAMPLE.subscriptions.replace(`${ROOT}/`, "")}) against DynamoDB Local's ceiling\n` +
      `commit ${commit}; batches of ${batchSize ?? "the default number of"} rows; ${runs} alternate run(s) each, ` +
      `medians; the first run left ${counted}\n\n` +
      "| what | median s | each run, s | ÷ its raw ceiling |\n|---|--:|---|--:|\n" +
      row("`hiwari run`, first run (whole command)", "run", "write") +
      row("raw BatchWriteItem of the same items (DynamoDB Local's start to its stop)", "write", "write") +
      row("`hiwari run --dry-run` on the first run's state", "dry", "read") +
      row("`hiwari run`, identical rerun", "rerun", "read") +
      row("raw BatchGetItem of the incident's line keys (DynamoDB Local's start to its stop)", "read", "read") +
      `\nphases: first run: ${phases.run}\n        dry run: ${phases.dry}\n        rerun: ${phases.rerun}\n`,
  );
}
