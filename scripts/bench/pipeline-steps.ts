/**
 * `npm run bench:pipeline`: the pipeline's own CPU work, without DynamoDB: prepare's survey of the whole snapshot,
 * and the compute step of every batch (its slice's bytes checked and read, each row judged and computed, its lines
 * keyed, its books kept: `sliceRows` then `computeBatch` on a store that takes every write at once), in rows/s,
 * against the same step with every row read as a record and judged by the reference path (`recordsOfSlice`,
 * `recordRows`: the step as it was before the byte path) and `hiwari compute` (the fast engine) on the same
 * snapshot in the same run. Refuses to report when the two paths make a different number of lines.
 *
 * `--rows N` (default 200,000) rows of the bench's case (`generate-case.ts`), `--batch-size N` (default 2,000: the
 * pipeline's), `--runs N` alternate runs (default 3; medians). Prints rows/s and ratios; no assertion.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { duplicatesOf } from "../../shared/engine/fast/plain-rows";
import { headerForIncident } from "../../shared/engine/snapshot-header";
import { parseIncident } from "../../shared/input/incident";
import { computeBatch, recordRows } from "../../shared/pipeline/compute-batch";
import type { RunContext } from "../../shared/pipeline/run-context";
import { recordsOfSlice, sliceRows, surveySnapshot } from "../../shared/pipeline/survey-snapshot";
import type { RefundStore } from "../../shared/store/refund-store";
import { caseFiles, generateCase } from "./generate-case";
import { median, secondsSince } from "./stats";

const ROOT = resolve(import.meta.dirname, "../..");
const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "200000" },
    "batch-size": { type: "string", default: "2000" },
    runs: { type: "string", default: "3" },
  },
});
const rows = Number(values.rows);
const batchSize = Number(values["batch-size"]);
const runs = Number(values.runs);
for (const [name, v] of [
  ["--rows", rows],
  ["--batch-size", batchSize],
  ["--runs", runs],
] as const)
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: must be a positive whole number`);

const dir = mkdtempSync(join(tmpdir(), "hiwari-pipeline-bench-"));
await generateCase(dir, rows);
const files = caseFiles(dir);
const bytes = new Uint8Array(readFileSync(files.subscriptions));
const incident = parseIncident(JSON.parse(readFileSync(files.incident, "utf8")));

/** A store that takes every write at once and holds nothing: the compute step's own work is what is timed. */
const nullStore = {
  linesLike: async () => [],
  writeChanges: async () => {},
  putBatch: async () => {},
} as unknown as RefundStore;

const seconds = secondsSince;

async function survey() {
  return surveySnapshot(
    "bench.csv",
    async function* () {
      for (let i = 0; i < bytes.length; i += 4 << 20) yield bytes.subarray(i, i + (4 << 20));
    },
    batchSize,
    { strict: false, incident },
  );
}

const times = { survey: [] as number[], reference: [] as number[], compute: [] as number[], fast: [] as number[] };
let lines = 0;
for (let r = 0; r < runs; r++) {
  let start = process.hrtime.bigint();
  const surveyed = await survey();
  times.survey.push(seconds(start));
  const header = headerForIncident(surveyed.headerFields, incident);
  if (!header.ok) throw new Error(header.reason);
  const context: RunContext = {
    incident,
    runId: "run-bench",
    dryRun: false,
    fresh: true,
    duplicates: duplicatesOf([...surveyed.duplicates]),
  };
  // Before: every row read as a record and judged by the reference path (what the compute step did until now).
  start = process.hrtime.bigint();
  let referenceLines = 0;
  for (const slice of surveyed.slices) {
    const records = recordsOfSlice("bench.csv", slice, bytes.subarray(slice.start, slice.end), header.header.width);
    const rows = recordRows(records);
    referenceLines += (await computeBatch(context, slice.batchNo, header.header, rows, nullStore)).changes.length;
  }
  times.reference.push(seconds(start));
  // After: the slice's rows as the fast engine reads them, plain lines on the byte path.
  start = process.hrtime.bigint();
  lines = 0;
  for (const slice of surveyed.slices) {
    const rows = sliceRows("bench.csv", slice, bytes.subarray(slice.start, slice.end), header.header.width);
    lines += (await computeBatch(context, slice.batchNo, header.header, rows, nullStore)).changes.length;
  }
  if (lines !== referenceLines)
    throw new Error(`the byte path made ${lines} lines, the reference path ${referenceLines}`);
  times.compute.push(seconds(start));
  start = process.hrtime.bigint();
  const fast = spawnSync(
    process.execPath,
    [join(ROOT, "bin/hiwari.js"), "compute", "--incident", files.incident, "--subscriptions", files.subscriptions],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, HIWARI_THREADS: "1" } },
  );
  times.fast.push(seconds(start));
  if (fast.status !== 0) throw new Error(`hiwari compute exited ${fast.status}: ${fast.stderr}`);
}
rmSync(dir, { recursive: true, force: true });

const rate = (s: number) => Math.round(rows / s).toLocaleString("en-US");
const fast = median(times.fast);
const row = (what: string, t: number[]) =>
  `| ${what} | ${median(t).toFixed(2)} | ${t.map((x) => x.toFixed(2)).join(", ")} | ${rate(median(t))} | ${(median(t) / fast).toFixed(2)}× |\n`;
process.stdout.write(
  `# the pipeline's CPU work: ${rows.toLocaleString("en-US")} rows, batches of ${batchSize.toLocaleString("en-US")} ` +
    `(${Math.ceil(rows / batchSize)} batches, ${lines.toLocaleString("en-US")} lines), ${runs} alternate runs, medians\n\n` +
    "| what | median s | each run, s | rows/s | ÷ hiwari compute |\n|---|--:|---|--:|--:|\n" +
    row("prepare's survey (header, duplicates, digest, slices)", times.survey) +
    row("compute step before: every row a record, the reference judgement (no store)", times.reference) +
    row("compute step: the byte path, records only where it declines (no store)", times.compute) +
    row("`hiwari compute` (fast engine, one thread, whole process)", times.fast),
);
