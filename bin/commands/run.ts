import { randomUUID } from "node:crypto";
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CompactStringSet } from "../../shared/collections/compact-string-set";
import type { CsvRecord } from "../../shared/csv/csv-record-reader";
import { findDuplicateIds, UnusableSnapshotError } from "../../shared/engine/compute-refunds";
import type { RejectedRow, SubscriptionHeader } from "../../shared/input/subscription-row";
import { readHeader } from "../../shared/input/subscription-row";
import { toJsonLine } from "../../shared/output/line-format";
import { computeBatch } from "../../shared/pipeline/compute-batch";
import { finalizeRun } from "../../shared/pipeline/finalize-run";
import { completeRun, failRun, LOCK_LEASE_MS, prepareRun } from "../../shared/pipeline/prepare-run";
import { type RunContext, sha256 } from "../../shared/pipeline/run-context";
import type { LineChange } from "../../shared/reconcile/reconcile";
import { LockLostError, RequestMismatchError, RunLockedError, type RunRecord } from "../../shared/store/refund-store";
import { n, totalRow } from "../format";
import { FileRecordSource } from "../io/file-record-source";
import { openLocalEnvironment } from "../io/local-environment";
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

async function fileDigest(path: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The snapshot's records after the header, in batches of `size`. */
async function* batchesOf(source: FileRecordSource, size: number): AsyncIterable<CsvRecord[]> {
  let header = true;
  let batch: CsvRecord[] = [];
  for await (const records of source.records()) {
    for (const record of records) {
      if (header) {
        header = false;
        continue;
      }
      batch.push(record);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * `hiwari run`: the whole pipeline on one machine. DynamoDB Local holds the tables under the state folder; the
 * steps run in the state machine's order (prepare, batches, finalize) with the same code as the Lambdas; the
 * stream is then fed to the publish-events handler, whose bus appends to <state>/events.jsonl.
 */
export async function run(options: RunOptions): Promise<number> {
  const incident = loadIncident(options.incident);
  const batchSize = Number(options.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new UsageError(`--batch-size: must be a positive whole number (got ${options.batchSize})`);
  const source = new FileRecordSource(options.subscriptions);
  let duplicates: CompactStringSet;
  let header: SubscriptionHeader | undefined;
  // A rerun keeps the stored lines of a rejected row, by its subscription id. A row without one (or a quote never
  // closed, which swallows every later row into one) would let finalize void refunds it cannot see: refused.
  const unsafe: string[] = [];
  try {
    duplicates = await findDuplicateIds(source, (record, h) => {
      header = h;
      if (unsafe.length >= 10) return;
      if (record.error?.unclosed)
        unsafe.push(`line ${record.line}: ${record.error.reason}, so no later row can be read`);
      else if (!record.fields[h.index.subscription_id]) unsafe.push(`line ${record.line}: no subscription_id`);
    }); // validates the header too
    if (!header) {
      for await (const records of source.records()) {
        const read = readHeader(records[0]?.fields ?? []);
        if (read.ok) header = read.header;
        break;
      }
    }
  } catch (e) {
    if (e instanceof UnusableSnapshotError) throw new UsageError(e.message);
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new UsageError(`${options.subscriptions}: cannot read the subscriptions: ENOENT`);
    throw e;
  }
  if (!header) throw new UsageError(`${options.subscriptions}: line 1: the header cannot be read`);
  if (unsafe.length > 0) {
    throw new UsageError(
      `${options.subscriptions}: a run cannot tell whose stored lines these rows would keep; fix them and run again:\n  ${unsafe.join("\n  ")}`,
    );
  }

  mkdirSync(options.state, { recursive: true });
  const env = await openLocalEnvironment(options.state);
  try {
    // Events of changes stored by an earlier run that died before publishing go out first.
    await env.publishPending();
    const prepared = await prepareRun(
      {
        incident,
        incidentDigest: sha256(readFileSync(options.incident)),
        snapshotName: options.subscriptions,
        snapshotDigest: await fileDigest(options.subscriptions),
        requestId: options.requestId ?? randomUUID(),
        requestedBy: options.by,
        reason: options.reason,
        dryRun: Boolean(options.dryRun),
        batchSize,
      },
      env.store,
    ).catch((e) => {
      if (e instanceof RunLockedError || e instanceof RequestMismatchError) throw new UsageError(e.message);
      throw e;
    });
    if (prepared.kind === "already-completed") {
      const published = await env.publishPending();
      report(
        prepared.run,
        options,
        env.eventsFile,
        published.handled,
        [],
        "this request was completed before: nothing was run again",
      );
      return EXIT.ok;
    }
    const context: RunContext = {
      incident,
      runId: prepared.run.runId,
      dryRun: prepared.run.dryRun,
      fresh: prepared.fresh,
      duplicates,
    };
    const rejects: RejectedRow[] = [];
    const dryRunChanges: LineChange[] = [];
    let done: RunRecord;
    const timing = process.env.HIWARI_TIMING
      ? (what: string, since: number) => process.stderr.write(`timing: ${what} ${Date.now() - since} ms\n`)
      : () => {};
    const t0 = Date.now();
    try {
      let batchNo = 0;
      for await (const records of batchesOf(source, batchSize)) {
        await env.store.renewLock(incident.incidentId, context.runId, LOCK_LEASE_MS);
        const result = await computeBatch(context, ++batchNo, header, records, env.store);
        rejects.push(...result.summary.rejects);
        if (context.dryRun) for (const c of result.changes) dryRunChanges.push(c);
        if (process.stderr.isTTY) process.stderr.write(`\rhiwari run: batch ${batchNo}`);
      }
      if (process.stderr.isTTY) process.stderr.write("\n");
      timing("batches", t0);
      const t1 = Date.now();
      const result = await finalizeRun(context, env.store, {
        beforeShard: () => env.store.renewLock(incident.incidentId, context.runId, LOCK_LEASE_MS),
      });
      timing("finalize", t1);
      for (const c of result.changes) dryRunChanges.push(c);
      done = await completeRun(prepared.run, result, env.store);
    } catch (e) {
      if (!(e instanceof LockLostError)) await failRun(prepared.run, e, env.store);
      await env.publishPending(); // what was stored before the failure is real: its events go out
      throw e;
    }
    const runDir = join(options.state, "runs", done.runId);
    mkdirSync(runDir, { recursive: true });
    if (rejects.length > 0)
      writeFileSync(join(runDir, "rejects.jsonl"), rejects.map((r) => `${JSON.stringify(r)}\n`).join(""));
    if (context.dryRun) {
      writeFileSync(
        join(runDir, "dry-run-changes.jsonl"),
        dryRunChanges
          .map(
            (c) =>
              `${JSON.stringify({ change: c.kind, version: c.next.version, line: JSON.parse(toJsonLine(c.next)) })}\n`,
          )
          .join(""),
      );
    }
    const published = await env.publishPending();
    report(
      done,
      options,
      env.eventsFile,
      published.handled,
      rejects,
      context.dryRun
        ? `dry run: nothing written; the changes it would make are in ${join(runDir, "dry-run-changes.jsonl")}`
        : undefined,
    );
    if (published.failed > 0) {
      process.stderr.write(
        `hiwari: ${published.failed} stream records could not be published; they stay in the stream for the next run\n`,
      );
      return EXIT.failure;
    }
    return rejects.length > 0 ? EXIT.rejected : EXIT.ok;
  } finally {
    await env.stop();
  }
}

function report(
  run: RunRecord,
  options: RunOptions,
  eventsFile: string,
  published: number,
  rejects: RejectedRow[],
  note?: string,
): void {
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
  if (rejects.length > 0)
    lines.push(`  rejected rows: ${rejects.length}, in ${join(options.state, "runs", run.runId, "rejects.jsonl")}`);
  lines.push(`  events published now: ${n(published)}, appended to ${eventsFile}`);
  if (note) lines.push(`  ${note}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
