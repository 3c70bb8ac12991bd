import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { LINE_FIELDS } from "../../shared/engine/refund-line";
import { ServiceTotals } from "../../shared/money/service-totals";
import { spreadsheetCell } from "../../shared/output/line-format";
import { REJECTS_FILE, releaseAbandoned } from "../../shared/pipeline/run-steps";
import { type RunRecord, SHARDS } from "../../shared/store/refund-store";
import { accountingRow, n, runSummary } from "../format";
import { AtomicFileWriter } from "../io/atomic-file-writer";
import { withLocalEnvironment } from "../io/local-environment";
import { StreamTextWriter } from "../io/stream-text-writer";
import { EXIT, UsageError } from "../usage-error";

/** `hiwari runs`: an incident's run history, with who, why and what it refunded (also while a run goes). */
export async function runs(options: { incident: string; state: string; json?: boolean }): Promise<number> {
  mkdirSync(options.state, { recursive: true });
  const list = await withLocalEnvironment(options.state, true, (env) => env.store.listRuns(options.incident));
  if (options.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
  else if (list.length === 0) process.stdout.write(`no runs of incident ${options.incident} in ${options.state}\n`);
  else process.stdout.write(list.map((r) => runSummary(r)).join(""));
  return EXIT.ok;
}

const REPORT_COLUMNS = ["lineId", ...LINE_FIELDS, "version", "runId"] as const;

/**
 * `hiwari report`: the incident's standing lines for the books, as CSV that opens cleanly in Excel (UTF-8 with a
 * byte-order mark, CRLF, quoted where needed, no formula injection), and a summary per service and currency.
 */
export async function report(options: { incident: string; state: string; out?: string }): Promise<number> {
  mkdirSync(options.state, { recursive: true });
  const totals = new ServiceTotals();
  // Also while a run goes, through its instance.
  const runsOf = await withLocalEnvironment(options.state, true, async (env) => {
    const out = options.out ? new AtomicFileWriter(options.out) : new StreamTextWriter(process.stdout);
    try {
      out.write(`\uFEFF${REPORT_COLUMNS.join(",")}\r\n`);
      for (let shard = 0; shard < SHARDS; shard++) {
        for await (const page of env.store.linesOfShard(options.incident, shard)) {
          for (const line of page) {
            if (line.status !== "active") continue;
            out.write(
              `${REPORT_COLUMNS.map((c) => spreadsheetCell(c === "amount" ? line.amount.toString() : line[c])).join(",")}\r\n`,
            );
            totals.add(line.serviceCode, line.currency, 1, line.amount);
          }
        }
        await out.drain();
      }
      // Listed after the lines: a run that began while they were read is named below as one that may change them.
      const listed = await env.store.listRuns(options.incident);
      await out.commit();
      return listed;
    } catch (e) {
      out.abort();
      throw e;
    }
  });
  if (totals.list().length === 0 && !options.out)
    throw new UsageError(`no lines stored for incident ${options.incident} in ${options.state}`);
  const summary = totals
    .list()
    .map(
      (t) =>
        `  ${`${t.serviceCode ?? "goodwill"} ${t.currency}`.padEnd(16)} ${n(t.lines).padStart(10)} lines  ${n(t.amount).padStart(14)}`,
    );
  process.stderr.write(
    `owed now for incident ${options.incident}:\n${summary.join("\n")}\n${standingRun(runsOf, options.state)}${options.out ? `lines written to ${options.out}\n` : ""}`,
  );
  return EXIT.ok;
}

/**
 * The run the standing lines are the outcome of (the last completed one that wrote: every run reconciles the whole
 * incident) and where its rows went, so the books show that every row of its snapshot is accounted for.
 */
export function standingRun(runs: readonly RunRecord[], state: string): string {
  const writers = runs.filter((r) => !r.dryRun);
  const last = writers
    .filter((r) => r.status === "completed")
    .sort((a, b) => (a.completedAt ?? "").localeCompare(b.completedAt ?? ""))
    .at(-1);
  // A run that failed (or is still running) after it may have changed lines too: the books must say so.
  const since = writers.filter(
    (r) =>
      (r.status === "failed" || r.status === "running" || r.status === "interrupted" || r.status === "abandoned") &&
      (!last || r.startedAt > last.startedAt),
  );
  const unsettled = since.map(
    (r) =>
      `note: run ${r.runId} (${r.status}, started ${r.startedAt}) came after it and may have changed lines; ` +
      "run the incident again to settle them\n",
  );
  if (!last?.counts) return unsettled.join("");
  const rejected =
    last.counts.rejected > 0 ? `; rejected rows in ${join(state, "runs", last.runId, REJECTS_FILE)}` : "";
  return `as of run ${last.runId} (${last.completedAt}, ${last.snapshotName}): ${accountingRow(last.counts)}${rejected}\n${unsettled.join("")}`;
}

/** `hiwari unlock`: releases the lock of a run that died holding it (see docs/operations.md). */
export async function unlock(options: { incident: string; state: string }): Promise<number> {
  const holder = await withLocalEnvironment(options.state, false, (env) =>
    releaseAbandoned(options.incident, env.store),
  );
  process.stdout.write(
    holder
      ? `released the lock of ${holder} on incident ${options.incident} (the run is marked abandoned)\n`
      : `incident ${options.incident} was not locked\n`,
  );
  return EXIT.ok;
}
