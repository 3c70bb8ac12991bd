import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type ServiceTotal, ServiceTotals } from "../../shared/money/service-totals";
import { spreadsheetCell } from "../../shared/output/line-format";
import { REJECTS_FILE, releaseAbandoned } from "../../shared/pipeline/run-steps";
import { standingOf } from "../../shared/pipeline/standing";
import type { StoredLine } from "../../shared/reconcile/reconcile";
import { type RunRecord, SHARDS } from "../../shared/store/refund-store";
import { accountingRow, n, runSummary, totalRow } from "../format";
import { type LocalEnvironment, withLocalEnvironment } from "../io/local-environment";
import { runFolder } from "../io/local-run-files";
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

/**
 * An id as a join key that a spreadsheet cannot run: percent-encoded as inside `lineId` (encodeURIComponent), and a
 * leading `-`, which encodeURIComponent keeps, as `%2D`; so no key starts with = + - @, a tab or a line break, and
 * decodeURIComponent gives the id back exactly. (A lone surrogate, which encodeURIComponent refuses, becomes U+FFFD
 * as in `lineId`; stored lines never hold one: such rows are rejected.)
 */
export function idKey(id: string | null): string | null {
  if (id === null) return null;
  return encodeURIComponent(id.replace(/\p{Surrogate}/gu, "\uFFFD")).replace(/^-/, "%2D");
}

/**
 * The report's columns: `lineId` (the events' key), the ten fields of the line with each id followed by its key
 * (an id cell a spreadsheet would run is shown as text, `'` first, so it no longer equals the events' id; its key
 * decodes to that id exactly), `version` (the events' `eventId` is `lineId#version`) and the run that last changed
 * the line. Where the columns are explained: docs/operations.md, "The report".
 */
export const REPORT_COLUMNS = [
  "lineId",
  "subscriptionId",
  "subscriptionKey",
  "subscriberId",
  "subscriberKey",
  "serviceCode",
  "periodStart",
  "periodEnd",
  "unit",
  "units",
  "basis",
  "amount",
  "currency",
  "version",
  "runId",
] as const;

/** One report row: every cell safe to open in a spreadsheet (CRLF). */
export function reportRow(line: StoredLine): string {
  const cell = (c: (typeof REPORT_COLUMNS)[number]) =>
    c === "subscriptionKey"
      ? idKey(line.subscriptionId)
      : c === "subscriberKey"
        ? idKey(line.subscriberId)
        : c === "amount"
          ? line.amount.toString()
          : line[c];
  return `${REPORT_COLUMNS.map((c) => spreadsheetCell(cell(c))).join(",")}\r\n`;
}

/**
 * `hiwari report`: the incident's standing lines for the books, as CSV that opens cleanly in Excel (UTF-8 with a
 * byte-order mark, CRLF, quoted where needed, no formula injection, each id with its exact key), and a summary laid
 * out as `hiwari run` prints its own.
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
          out.write(reportRow(line));
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
  process.stderr.write(reportSummary(options.incidentId, totals.list(), runsOf, options.state, options.out));
  return EXIT.ok;
}

/**
 * What `hiwari report` prints: the lines written, the run they are the outcome of (the last completed one that
 * wrote: every run reconciles the whole incident) with where its rows went, so the books show that every row of its
 * snapshot is accounted for, and the totals per service and currency, laid out as `hiwari run` prints them.
 */
export function reportSummary(
  incidentId: string,
  totals: readonly ServiceTotal[],
  runs: readonly RunRecord[],
  state: string,
  out?: string,
): string {
  const count = totals.reduce((sum, t) => sum + t.lines, 0);
  const { asOf: last, unsettled } = standingOf(runs);
  const lines = [`report of incident ${incidentId}: ${n(count)} standing lines${out ? `, written to ${out}` : ""}`];
  if (last?.counts)
    lines.push(`  as of run ${last.runId} (${last.completedAt}, ${last.snapshotName}): ${accountingRow(last.counts)}`);
  lines.push("  owed now, per service and currency:");
  for (const t of totals) lines.push(`    ${totalRow(t)}`);
  if (last?.counts && last.counts.rejected > 0)
    lines.push(`  rejected rows: ${n(last.counts.rejected)}, in ${join(runFolder(state, last.runId), REJECTS_FILE)}`);
  // A run that failed (or is still running) after it may have changed lines too: the books must say so.
  for (const r of unsettled)
    lines.push(
      `  note: run ${r.runId} (${r.status}, started ${r.startedAt}) came after it and may have changed lines; ` +
        "run the incident again to settle them",
    );
  return `${lines.join("\n")}\n`;
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
