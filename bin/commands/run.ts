import { randomUUID } from "node:crypto";
import { accessSync, constants, readFileSync } from "node:fs";
import { join } from "node:path";
import { UnusableSnapshotError } from "../../shared/engine/compute-refunds";
import { runIdOf, sha256 } from "../../shared/pipeline/run-context";
import {
  completeStep,
  computeStep,
  DRY_RUN_FOLDER,
  failStep,
  finalizeShardStep,
  loadPlan,
  MANIFEST_FILE,
  prepareStep,
  REJECTS_FILE,
  type ShardResult,
  type StepDeps,
} from "../../shared/pipeline/run-steps";
import { parseManifest, UnsafeSnapshotError } from "../../shared/pipeline/survey-snapshot";
import { LockLostError, RequestMismatchError, RunLockedError, type RunRecord } from "../../shared/store/refund-store";
import { n, totalRow } from "../format";
import { openLocalEnvironment } from "../io/local-environment";
import { FileSnapshot, FolderRunFiles } from "../io/local-run-files";
import { EXIT, UsageError } from "../usage-error";
import { loadIncident } from "./compute";

export interface RunOptions {
  incident: string;
  subscriptions: string;
  state: string;
  reason: string;
  by: string;
  dryRun?: boolean;
  json?: boolean;
  requestId?: string;
  batchSize: string;
}

/** How many shards finalize works on at once, as the state machine's inline Map does. */
const FINALIZE_CONCURRENCY = 8;

/**
 * `hiwari run`: the whole pipeline on one machine. DynamoDB Local holds the tables under the state folder; the
 * steps run in the state machine's order (prepare, a batch per slice, finalize per shard, complete) with the
 * same code as the Lambdas; the stream is then fed to the publish-events handler, whose bus appends to
 * <state>/events.jsonl. The run's files (manifest, plan, rejects, dry-run changes) are in <state>/runs/<runId>.
 */
export async function run(options: RunOptions): Promise<number> {
  const incident = loadIncident(options.incident);
  const batchSize = Number(options.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new UsageError(`--batch-size: must be a positive whole number (got ${options.batchSize})`);
  try {
    accessSync(options.subscriptions, constants.R_OK);
  } catch (e) {
    throw new UsageError(
      `${options.subscriptions}: cannot read the subscriptions: ${(e as NodeJS.ErrnoException).code}`,
    );
  }
  const incidentText = readFileSync(options.incident, "utf8").replace(/^\uFEFF/, "");
  const requestId = options.requestId ?? randomUUID();
  const ref = { incidentId: incident.incidentId, runId: runIdOf(incident.incidentId, requestId) };
  const runDir = join(options.state, "runs", ref.runId);

  const env = await openLocalEnvironment(options.state);
  try {
    const deps: StepDeps = {
      store: env.store,
      snapshot: new FileSnapshot(options.subscriptions),
      files: new FolderRunFiles(runDir),
    };
    // Events of changes stored by an earlier run that died before publishing go out first.
    await env.publishPending();
    const prepared = await prepareStep(
      {
        incidentDocument: JSON.parse(incidentText),
        incidentDigest: sha256(readFileSync(options.incident)),
        requestId,
        requestedBy: options.by,
        reason: options.reason,
        dryRun: Boolean(options.dryRun),
        batchSize,
      },
      deps,
    ).catch((e) => {
      if (
        e instanceof UnusableSnapshotError ||
        e instanceof UnsafeSnapshotError ||
        e instanceof RunLockedError ||
        e instanceof RequestMismatchError
      )
        throw new UsageError(e.message);
      throw e;
    });
    if (prepared.status === "already-completed") {
      const published = await env.publishPending();
      const done = (await env.store.getRun(ref.incidentId, ref.runId)) as RunRecord;
      report(
        done,
        options,
        env.eventsFile,
        published.handled,
        "this request was completed before: nothing was run again",
      );
      return EXIT.ok;
    }
    let done: RunRecord;
    try {
      const plan = await loadPlan(ref, deps.files);
      const slices = parseManifest(await deps.files.get(MANIFEST_FILE));
      for (const slice of slices) {
        await computeStep(ref, [slice], deps, plan);
        if (process.stderr.isTTY) process.stderr.write(`\rhiwari run: batch ${slice.batchNo} of ${slices.length}`);
      }
      if (process.stderr.isTTY) process.stderr.write("\n");
      const shards: ShardResult[] = [];
      const queue = [...prepared.shards];
      const worker = async () => {
        for (let shard = queue.shift(); shard !== undefined; shard = queue.shift())
          shards.push(await finalizeShardStep(ref, shard, deps, plan));
      };
      await Promise.all(Array.from({ length: FINALIZE_CONCURRENCY }, worker));
      done = await completeStep(ref, shards, deps);
    } catch (e) {
      if (!(e instanceof LockLostError)) await failStep(ref, e instanceof Error ? e.message : String(e), deps);
      await env.publishPending(); // what was stored before the failure is real: its events go out
      throw e;
    }
    const published = await env.publishPending();
    report(
      done,
      options,
      env.eventsFile,
      published.handled,
      done.dryRun
        ? `dry run: nothing written; the changes it would make are in ${join(runDir, DRY_RUN_FOLDER)}`
        : undefined,
    );
    if (published.failed > 0) {
      process.stderr.write(
        `hiwari: ${published.failed} stream records could not be published; they stay in the stream for the next run\n`,
      );
      return EXIT.failure;
    }
    return (done.counts?.rejected ?? 0) > 0 ? EXIT.rejected : EXIT.ok;
  } finally {
    await env.stop();
  }
}

function report(run: RunRecord, options: RunOptions, eventsFile: string, published: number, note?: string): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ run, eventsPublished: published, eventsFile, note }, null, 2)}\n`);
    return;
  }
  const c = run.counts;
  const lines = [
    `run ${run.runId} of incident ${run.incidentId}${run.dryRun ? " (dry run)" : ""}: ${run.status}`,
    `  by ${run.requestedBy}: ${run.reason}`,
  ];
  if (c) {
    lines.push(`  rows ${n(c.rows)}: computed ${n(c.computed)}, skipped ${n(c.skipped)}, rejected ${n(c.rejected)}`);
    lines.push(
      `  lines: new ${n(c.calculated)}, adjusted ${n(c.adjusted)}, voided ${n(c.voided)}, unchanged ${n(c.unchanged)}`,
    );
  }
  lines.push("  owed now, per service and currency:");
  for (const t of run.totals ?? []) lines.push(`    ${totalRow(t)}`);
  if ((c?.rejected ?? 0) > 0)
    lines.push(`  rejected rows: ${n(c?.rejected ?? 0)}, in ${join(options.state, "runs", run.runId, REJECTS_FILE)}`);
  lines.push(`  events published now: ${n(published)}, appended to ${eventsFile}`);
  if (note) lines.push(`  ${note}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
