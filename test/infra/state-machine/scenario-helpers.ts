import type { RefundLine } from "../../../shared/engine/refund-line";
import type { StoredLine } from "../../../shared/reconcile/reconcile";
import { SHARDS } from "../../../shared/store/refund-store";
import { type Row, row } from "../../helpers/factories";
import type { PipelineWorld } from "./deployed-pipeline";

/**
 * `rows` subscriptions of the sample service with some variety: every 41st row a fee that is not a number (rejected),
 * every 53rd of another service (skipped), every 7th a fee of 310, every 11th ended before the outage.
 */
export function snapshotRows(rows: number, from = 1): Row[] {
  return Array.from({ length: rows }, (_, i) => {
    const n = from + i;
    if (n % 41 === 0) return row({ monthly_fee: "abc" }, n);
    if (n % 53 === 0) return row({ service_code: "OTHER" }, n);
    if (n % 11 === 0) return row({ active_to: "2011-12-01" }, n);
    return row({ monthly_fee: n % 7 === 0 ? "310" : "210" }, n);
  });
}

/** Every line of an incident (standing and voided), from its 64 shards. */
export async function storedLines(w: PipelineWorld, incidentId: string): Promise<StoredLine[]> {
  const all: StoredLine[] = [];
  for (let n = 0; n < SHARDS; n++) for await (const page of w.store.linesOfShard(incidentId, n)) all.push(...page);
  return all;
}

/** A line as finance reads it: whose, which period, how much; sorted lists of these compare runs with the engine. */
export const lineKey = (l: RefundLine) =>
  `${l.subscriptionId}|${l.subscriberId}|${l.periodStart}|${l.periodEnd}|${l.unit}|${l.units}|${l.amount}|${l.currency}`;

/** `lineId@version`, sorted: what a rerun must leave untouched. */
export const versions = (lines: readonly StoredLine[]) => lines.map((l) => `${l.lineId}@${l.version}`).sort();

/**
 * Makes every invocation of the function `prefix` wait until `release()` (a run held mid-way); `reached` settles at
 * the first one. Any other function runs as usual.
 */
export function holdFunction(w: PipelineWorld, prefix: string) {
  let release = () => {};
  const released = new Promise<void>((r) => {
    release = r;
  });
  let reach = () => {};
  const reached = new Promise<void>((r) => {
    reach = r;
  });
  w.lambdas.beforeInvoke = async (fn) => {
    if (!fn.logicalId.startsWith(prefix)) return;
    reach();
    await released;
  };
  return { reached, release };
}

/** The calls made since `mark` that write to `table` (a physical name), as `action by actor`. */
export function writesTo(w: PipelineWorld, table: string, mark: number): string[] {
  return w.log
    .since(mark)
    .filter((c) => c.resource.endsWith(`:table/${table}`) && /Put|Write|Update|Delete/.test(c.action))
    .map((c) => `${c.action} by ${c.principal.actor.replace(/[0-9A-F]{8}$/, "")}`);
}
