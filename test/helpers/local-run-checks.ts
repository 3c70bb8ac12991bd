import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { openLocalEnvironment } from "../../bin/io/local-environment";
import type { RunRecord } from "../../shared/store/refund-store";
import { lineKey } from "../infra/state-machine/scenario-helpers";
import { run as compute } from "./factories";
import { storedLinesOf } from "./pipeline-harness";
import { processesNaming } from "./processes";

/**
 * What must hold in a state folder after whatever happened to a local run (a kill, a signal, a full disk) and its
 * resume, on the incident and snapshot given: every standing line is one `hiwari compute` gives (each once); the
 * events file parses line by line, each eventId once; the deltas of each line's events sum to its stored amount
 * (0 once voided); every stored change has its event; no DynamoDB Local is left running. Returns the incident's
 * run history, newest first, for the caller to say what it must show.
 */
export async function checkLocalRun(state: string, incidentDoc: unknown, csv: string): Promise<RunRecord[]> {
  const incidentId = (incidentDoc as { incidentId: string }).incidentId;
  const expected = (await compute(incidentDoc, csv)).lines.map(lineKey).sort();
  const env = await openLocalEnvironment(state);
  let stored: Awaited<ReturnType<typeof storedLinesOf>>;
  let history: RunRecord[];
  try {
    stored = await storedLinesOf(env.store, incidentId);
    history = await env.store.listRuns(incidentId);
  } finally {
    await env.stop();
  }
  expect(
    stored
      .filter((l) => l.status === "active")
      .map(lineKey)
      .sort(),
  ).toEqual(expected);

  const text = readFileSync(join(state, "events.jsonl"), "utf8");
  expect(text.endsWith("\n")).toBe(true);
  const events = text
    .slice(0, -1)
    .split("\n")
    .map((line) => JSON.parse(line) as { detail: { eventId: string; lineId?: string; delta?: string } });
  const ids = events.map((e) => e.detail.eventId);
  expect(new Set(ids).size).toBe(ids.length);
  const sums = new Map<string, bigint>();
  for (const { detail } of events)
    if (detail.lineId !== undefined)
      sums.set(detail.lineId, (sums.get(detail.lineId) ?? 0n) + BigInt(detail.delta ?? 0));
  expect(sums.size).toBe(stored.length);
  for (const line of stored)
    expect(`${line.lineId} ${sums.get(line.lineId)}`).toBe(
      `${line.lineId} ${line.status === "active" ? line.amount : 0}`,
    );
  expect(processesNaming(join(state, "dynamodb"))).toEqual([]);
  return history;
}
