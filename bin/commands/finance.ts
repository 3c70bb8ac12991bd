import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LINE_FIELDS } from "../../shared/engine/refund-line";
import { ServiceTotals } from "../../shared/money/service-totals";
import { spreadsheetCell } from "../../shared/output/line-format";
import { REJECTS_FILE, releaseAbandoned } from "../../shared/pipeline/run-steps";
import { type RunRecord, SHARDS } from "../../shared/store/refund-store";
import { accountingRow, n, runSummary } from "../format";
import { type LocalEnvironment, withLocalEnvironment } from "../io/local-environment";
import { StreamTextWriter } from "../io/stream-text-writer";
import { EXIT, UsageError } from "../usage-error";
import { fileWriter } from "./compute";

/**
 * The incident's runs, refused (exit 2) when it has none: a mistyped id says so and lists the ids there are,
 * instead of an empty history or report; a file's path (the `--incident` of run and compute) says whose it is.
 */
export async function runsOfKnownIncident(env: LocalEnvironment, incidentId: string, state: string) {
  const runs = await env.store.listRuns(incidentId);
  if (runs.length > 0) return runs;
  const known = await env.store.listIncidents();
  let hint = "";
  if (existsSync(incidentId) && statSync(incidentId).isFile()) {
    const id = (() => {
      try {
        return (JSON.parse(readFileSync(incidentId, "utf8")) as { incidentId?: unknown }).incidentId;
      } catch {
        return undefined;
      }
    })();
    hint = ` (${incidentId} is a file: --incident-id takes the incident's id${typeof id === "string" ? `, here ${id}` : ""})`;
  }
  throw new UsageError(
    `no incident ${incidentId} in ${state}${hint}; ` +
      (known.length > 0 ? `its incidents: ${known.join(", ")}` : "it has no runs yet (hiwari run starts one)"),
  );
}

/** `hiwari runs`: an incident's run history, with who, why and what it refunded (also while a run goes). */
export async function runs(options: { incidentId: string; state: string; json?: boolean }): Promise<number> {
  const list = await withLocalEnvironment(options.state, true, (env) =>
    runsOfKnownIncident(env, options.incidentId, options.state),
  );
  if (options.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
  else process.stdout.write(list.map((r) => runSummary(r)).join(""));
  return EXIT.ok;
}

const REPORT_COLUMNS = ["lineId", ...LINE_FIELDS, "version", "runId"] as const;

/**
 * `hiwari report`: the incident's standing lines for the books, as CSV that opens cleanly in Excel (UTF-8 with a
 * byte-order mark, CRLF, quoted where needed, no formula injection), and a summary per service and currency.
 */
export async function report(options: { incidentId: string; state: string; out?: string }): Promise<number> {
  const totals = new ServiceTotals();
  // Created first (a path that cannot be written stops the command before DynamoDB Local starts), moved into
  // place only when every line is written.
  const out = options.out ? fileWriter(options.out, "--out") : new StreamTextWriter(process.stdout);
  // Also while a run goes, through its instance.
  const read = withLocalEnvironment(options.state, true, async (env) => {
    await runsOfKnownIncident(env, options.incidentId, options.state);
    out.write(`\uFEFF${REPORT_COLUMNS.join(",")}\r\n`);
    for (let shard = 0; shard < SHARDS; shard++) {
      for await (const page of env.store.linesOfShard(options.incidentId, shard)) {
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
    const listed = await env.store.listRuns(options.incidentId);
    await out.commit();
    return listed;
  });
  const runsOf = await read.catch((e: unknown) => {
    out.abort(); // nothing half-written is left where --out points
    throw e;
  });
  if (totals.list().length === 0 && !options.out)
    throw new UsageError(`no lines stored for incident ${options.incidentId} in ${options.state}`);
  const summary = totals
    .list()
    .map(
      (t) =>
        `  ${`${t.serviceCode ?? "goodwill"} ${t.currency}`.padEnd(16)} ${n(t.lines).padStart(10)} lines  ${n(t.amount).padStart(14)}`,
    );
  process.stderr.write(
    `owed now for incident ${options.incidentId}:\n${summary.join("\n")}\n${standingRun(runsOf, options.state)}${options.out ? `lines written to ${options.out}\n` : ""}`,
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
export async function unlock(options: { incidentId: string; state: string }): Promise<number> {
  const holder = await withLocalEnvironment(options.state, false, (env) =>
    releaseAbandoned(options.incidentId, env.store),
  );
  process.stdout.write(
    holder
      ? `released the lock of ${holder} on incident ${options.incidentId} (the run is marked abandoned)\n`
      : `incident ${options.incidentId} was not locked\n`,
  );
  return EXIT.ok;
}
