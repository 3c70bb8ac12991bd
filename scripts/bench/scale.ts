/**
 * npm run bench:scale -- --rows N | --snapshot FILE [--goodwill refunded|active] [--json] [--batch-size N] [--jobs N]
 *                        [--children-per-process N] [--keep DIR]
 *
 * A dress rehearsal of a first run at national scale on this machine: prepare → every batch → finalize → complete,
 * through the Lambda handlers themselves, in the state machine's order and with its payloads, the store replaced
 * by one that counts and measures what it is asked to write (scripts/bench/scale/counting-store.ts) and the run's
 * bucket by a folder that measures what is put in it. Each step runs in child processes of its own (the step
 * script bundled as the functions are, run by node), so each figure is its step's own:
 *
 *   prepare   one process (the execution's input);
 *   compute   the Map's children (the manifest's rows, SLICES_PER_CHILD a child, with the ItemBatcher's
 *             BatchInput): the first child alone in a fresh process (one cold invocation), the rest split
 *             between as many processes as the Map runs children at once (8), each running its share in turn
 *             as a warm container would: their peak bounds one invocation's from above;
 *   finalize  the first shard alone in a fresh process, the other 63 in 16 processes (the inline Map runs 16 at
 *             once), 4 each;
 *   complete  one process.
 * Each process runs node with V8's heap sized as the Lambda Node.js runtime sizes it from the function's memory.
 * `--jobs` processes run at once (default 2). Each reports its peak RSS (`process.resourceUsage().maxRSS`), the
 * JSON size of every event it was invoked with and every output, the DynamoDB items it would have written (size
 * as DynamoDB counts it) and the objects it put. The report compares each step's peak RSS with its function's
 * memory, the largest state payload with 256 KiB, the largest item with 400 KB, and checks that every row of the
 * snapshot was judged once; exit status 1 when a limit is exceeded, 2 on unusable arguments.
 *
 * Without `--snapshot`, writes a national outage of N rows (scripts/bench/scale/national-outage.ts) into the
 * bench's folder: a temporary folder removed at the end, or `--keep DIR`. `--goodwill active` makes it KDDI's July
 * 2022 as it was refunded (contract v2 scope): the basic fee refunded to voice-only plans, the apology to every au
 * and UQ mobile subscriber active during the outage, so a goodwill line for nearly every row (default `refunded`).
 */
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { DEFAULT_BATCH_SIZE, type ExecutionInput } from "../../shared/api/run-request";
import { runIdOf, sha256 } from "../../shared/pipeline/run-context";
import { INCIDENT_FILE, type PrepareOutput, SLICES_PER_CHILD } from "../../shared/pipeline/run-steps";
import { manifestItems } from "../../shared/pipeline/survey-snapshot";
import { FINALIZE_CONCURRENCY, FUNCTIONS, MAP_CONCURRENCY, type StepName } from "./scale/limits";
import { type GoodwillCase, nationalOutage, writeNationalOutage } from "./scale/national-outage";
import { buildReport, renderReport } from "./scale/report";
import type { StepResult } from "./scale/step-result";

class UsageError extends Error {}

interface Options {
  rows?: number;
  snapshot?: string;
  json: boolean;
  batchSize: number;
  jobs: number;
  childrenPerProcess?: number;
  keep?: string;
  goodwill: GoodwillCase;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      rows: { type: "string" },
      snapshot: { type: "string" },
      json: { type: "boolean", default: false },
      "batch-size": { type: "string" },
      jobs: { type: "string" },
      "children-per-process": { type: "string" },
      keep: { type: "string" },
      goodwill: { type: "string", default: "refunded" },
    },
  });
  const whole = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const v = Number(text.replaceAll("_", ""));
    if (!Number.isSafeInteger(v) || v < 1) throw new UsageError(`--${name}: a positive whole number (got ${text})`);
    return v;
  };
  const rows = whole("rows", values.rows);
  if ((rows === undefined) === (values.snapshot === undefined))
    throw new UsageError("give --rows N (a national outage written for the bench) or --snapshot FILE");
  const goodwill = values.goodwill;
  if (goodwill !== "refunded" && goodwill !== "active")
    throw new UsageError(`--goodwill: refunded or active (got ${goodwill})`);
  if (values.snapshot !== undefined && !existsSync(values.snapshot))
    throw new UsageError(`--snapshot: ${values.snapshot} does not exist`);
  return {
    rows,
    snapshot: values.snapshot === undefined ? undefined : resolve(values.snapshot),
    json: values.json,
    batchSize: whole("batch-size", values["batch-size"]) ?? DEFAULT_BATCH_SIZE,
    jobs: whole("jobs", values.jobs) ?? 2,
    childrenPerProcess: whole("children-per-process", values["children-per-process"]),
    keep: values.keep === undefined ? undefined : resolve(values.keep),
    goodwill,
  };
}

const seconds = (since: number) => Math.round((performance.now() - since) / 100) / 10;
const jsonl = (events: readonly unknown[]) => events.map((e) => `${JSON.stringify(e)}\n`).join("");

/** Bytes under a folder. */
function folderBytes(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, entry.name);
    total += entry.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return total;
}

/** The step script, bundled as NodejsFunction bundles the functions (minified ESM, `require` provided). */
async function bundleStep(work: string): Promise<string> {
  const outfile = join(work, "bundle", "step.mjs");
  await build({
    entryPoints: [new URL("./scale/step.ts", import.meta.url).pathname],
    outfile,
    bundle: true,
    minify: true,
    platform: "node",
    format: "esm",
    target: "node20",
    mainFields: ["module", "main"],
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    logLevel: "error",
  });
  return outfile;
}

/** The end of a child's stderr, each line cut short: a minified bundle's error quotes its (very long) line. */
const tail = (text: string) =>
  text
    .split("\n")
    .slice(-40)
    .map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l))
    .join("\n");

/** Runs the bundled step script on `events` in a child process; resolves to what it measured. */
function runStep(bundle: string, work: string, step: StepName, name: string, events: readonly unknown[]) {
  const eventsFile = join(work, "events", `${name}.jsonl`);
  const out = join(work, "results", `${name}.json`);
  writeFileSync(eventsFile, jsonl(events));
  // V8's heap as the Lambda Node.js runtime sizes it from the function's memory (its bootstrap: a tenth for the
  // young generation, half of that a semi-space, the rest old space), so the heap grows and collects as there.
  const memory = FUNCTIONS[step].memoryMB;
  const heap = [
    `--max-semi-space-size=${Math.floor(memory / 20)}`,
    `--max-old-space-size=${memory - Math.floor(memory / 10)}`,
  ];
  const child = spawn(
    process.execPath,
    [...heap, bundle, "--step", step, "--name", name, "--work", work, "--events", eventsFile, "--out", out],
    {
      stdio: ["ignore", "ignore", "pipe"],
      // The handlers' Powertools as `hiwari run` sets them: quiet, no metrics to flush, no X-Ray.
      env: {
        ...process.env,
        POWERTOOLS_LOG_LEVEL: "SILENT",
        POWERTOOLS_METRICS_DISABLED: "true",
        POWERTOOLS_TRACE_ENABLED: "false",
      },
    },
  );
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-100_000);
  });
  return new Promise<StepResult>((resolvePromise, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolvePromise(JSON.parse(readFileSync(out, "utf8")) as StepResult);
      else reject(new Error(`${name} exited with ${code ?? signal}:\n${tail(stderr)}`));
    });
  });
}

/** Runs the tasks, `jobs` at a time; resolves to their results in order once all are done. */
async function atMost<T>(jobs: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await (tasks[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  return results;
}

/** Splits `items` into consecutive parts of `size`. */
function parts<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function main(): Promise<number> {
  const opts = options();
  const started = performance.now();
  const work = opts.keep ?? mkdtempSync(join(tmpdir(), "hiwari-scale-"));
  try {
    for (const dir of ["events", "results"]) mkdirSync(join(work, dir), { recursive: true });
    const log = (line: string) => {
      if (!opts.json) process.stderr.write(`bench:scale: ${line}\n`);
    };

    let t = performance.now();
    const snapshot = opts.snapshot ?? join(work, "subscriptions.csv");
    if (!opts.snapshot) {
      log(`writing ${opts.rows} rows to ${snapshot}`);
      await writeNationalOutage(snapshot, opts.rows as number, opts.goodwill);
    }
    const generate = seconds(t);
    t = performance.now();
    const bundle = await bundleStep(work);
    const bundleSeconds = seconds(t);

    // The execution's input, as start-run builds it: the incident left among the run's files and passed by
    // reference; the snapshot "location" is the file, as under `hiwari run`.
    const incident = nationalOutage(opts.goodwill);
    const incidentText = `${JSON.stringify(incident, null, 2)}\n`;
    const requestId = "bench-scale";
    const ref = { incidentId: incident.incidentId, runId: runIdOf(incident.incidentId, requestId) };
    const runFolder = join(work, "runs", ref.runId);
    mkdirSync(runFolder, { recursive: true });
    writeFileSync(join(runFolder, INCIDENT_FILE), incidentText);
    const input: ExecutionInput = {
      ...ref,
      requestId,
      requestedBy: "bench",
      reason: "npm run bench:scale",
      dryRun: false,
      batchSize: opts.batchSize,
      incidentDigest: sha256(incidentText),
      incident: { bucket: "local", key: join(runFolder, INCIDENT_FILE), sha256: sha256(incidentText) },
      snapshot: { bucket: "local", key: snapshot },
    };
    const wall = { prepare: 0, compute: 0, finalize: 0, complete: 0 };
    const results: StepResult[] = [];
    const timed = async (step: StepName, tasks: (() => Promise<StepResult>)[]) => {
      const at = performance.now();
      results.push(...(await atMost(opts.jobs, tasks)));
      wall[step] = seconds(at);
      log(`${step}: ${wall[step]} s`);
    };

    log("prepare");
    await timed("prepare", [() => runStep(bundle, work, "prepare", "prepare", [input])]);
    const prepared = results[0]?.lastOutput as PrepareOutput & { manifest: { key: string } };
    if (prepared?.status !== "ready") throw new Error(`prepare: ${JSON.stringify(prepared)}`);
    const stateAfterPrepare = { ...input, prepared };

    // The Map: the manifest's rows as the CSV item reader gives them, batched with the ItemBatcher's BatchInput.
    const items = manifestItems(readFileSync(prepared.manifest.key, "utf8"));
    const children = parts(items, SLICES_PER_CHILD).map((Items) => ({
      BatchInput: { incidentId: ref.incidentId, runId: ref.runId, snapshot: input.snapshot },
      Items,
    }));
    const perProcess = opts.childrenPerProcess ?? Math.max(1, Math.ceil((children.length - 1) / MAP_CONCURRENCY));
    const computeParts = [children.slice(0, 1), ...parts(children.slice(1), perProcess)];
    log(`compute: ${children.length} children in ${computeParts.length} processes`);
    await timed(
      "compute",
      computeParts.map((events, i) => () => runStep(bundle, work, "compute", `compute-${i}`, events)),
    );

    // The first shard alone in a fresh process, the rest split as the inline Map spreads them (16 at once).
    const shards = prepared.shards.map((shard) => ({ ...ref, shard }));
    const shardParts = [
      shards.slice(0, 1),
      ...parts(shards.slice(1), Math.ceil((shards.length - 1) / FINALIZE_CONCURRENCY)),
    ];
    log(`finalize: ${shards.length} shards in ${shardParts.length} processes`);
    await timed(
      "finalize",
      shardParts.map((events, i) => () => runStep(bundle, work, "finalize", `finalize-${i}`, events)),
    );

    log("complete");
    await timed("complete", [() => runStep(bundle, work, "complete", "complete", [ref])]);
    const completed = results.find((r) => r.step === "complete")?.lastOutput as
      | { counts?: Record<string, number> }
      | undefined;

    const plan = JSON.parse(readFileSync(join(runFolder, "plan.json"), "utf8")) as { rows: number };
    const report = buildReport(
      {
        rows: opts.rows ?? plan.rows,
        snapshotBytes: statSync(snapshot).size,
        batchSize: opts.batchSize,
        slices: items.length,
        children: children.length,
        shards: shards.length,
        jobs: opts.jobs,
        executionInputBytes: Buffer.byteLength(JSON.stringify(input)),
        stateAfterPrepareBytes: Buffer.byteLength(JSON.stringify(stateAfterPrepare)),
        wallSeconds: { ...wall, generate, bundle: bundleSeconds, total: seconds(started) },
        diskBytes: folderBytes(work),
        counts: completed?.counts,
      },
      results,
    );
    process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : renderReport(report));
    return report.ok ? 0 : 1;
  } finally {
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (e) {
  process.stderr.write(`bench:scale: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = e instanceof UsageError ? 2 : 1;
}
