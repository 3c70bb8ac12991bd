import { createReadStream, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { RejectedRow } from "../../shared/input/subscription-row";
import { DRY_RUN_FOLDER, REJECTS_FILE } from "../../shared/pipeline/run-steps";
import type { TotalLine } from "../../shared/store/refund-store";
import { runFolder } from "../io/local-run-files";
import { DeltaCounter, type Distribution } from "./histogram";

/** What the console reads of a local run's files (`<state>/runs/<runId>/`): the preview's changes, rejected rows. */

/** One change a dry run would make, as its `dry-run/` files hold it (amounts as exact decimal strings). */
export interface PreviewChange {
  change: "calculated" | "adjusted" | "voided";
  lineId: string;
  version: number;
  previousAmount: string;
  delta: string;
  /** The line after the change (its amount, a JSON number in the file, is left out: previousAmount + delta is exact). */
  line: { subscriberId: string; subscriptionId: string | null; serviceCode: string | null; currency: string };
}

/** A page of a list read from a file, and how many there are in all. */
export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

async function* jsonLines<T>(path: string): AsyncIterable<T> {
  const lines = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) if (line.trim() !== "") yield JSON.parse(line) as T;
}

/** `batch-2` before `batch-10`: the files in the order the run wrote them. */
const natural = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });

/** A dry run's changes, a page of them, and the distribution of every delta per currency (one pass, streamed). */
export async function previewOf(
  state: string,
  runId: string,
  page: number,
  pageSize: number,
): Promise<{ changes: Page<PreviewChange>; deltas: Distribution[] }> {
  const folder = join(runFolder(state, runId), DRY_RUN_FOLDER);
  const files = existsSync(folder)
    ? readdirSync(folder)
        .filter((f) => f.endsWith(".jsonl"))
        .sort(natural)
    : [];
  const counter = new DeltaCounter();
  const items: PreviewChange[] = [];
  let total = 0;
  for (const file of files)
    for await (const change of jsonLines<PreviewChange>(join(folder, file))) {
      counter.add(change.line.currency, BigInt(change.delta));
      if (total >= page * pageSize && items.length < pageSize) items.push(change);
      total++;
    }
  return { changes: { items, total, page, pageSize }, deltas: counter.distributions() };
}

/** A page of a run's rejected rows (its reject report). */
export async function rejectsOf(
  state: string,
  runId: string,
  page: number,
  pageSize: number,
): Promise<Page<RejectedRow>> {
  const file = join(runFolder(state, runId), REJECTS_FILE);
  const items: RejectedRow[] = [];
  let total = 0;
  if (existsSync(file))
    for await (const row of jsonLines<RejectedRow>(file)) {
      if (total >= page * pageSize && items.length < pageSize) items.push(row);
      total++;
    }
  return { items, total, page, pageSize };
}

/** Totals summed per currency (services together): what the incident list shows. */
export function perCurrency(totals: readonly TotalLine[]): { currency: string; amount: bigint }[] {
  const sums = new Map<string, bigint>();
  for (const t of totals) sums.set(t.currency, (sums.get(t.currency) ?? 0n) + BigInt(t.amount));
  return [...sums].sort(([a], [b]) => a.localeCompare(b)).map(([currency, amount]) => ({ currency, amount }));
}
