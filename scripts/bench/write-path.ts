/**
 * `npm run bench:write`: the write path into DynamoDB Local, through the real store code, against the raw
 * primitive it uses with the same items and the same concurrency (16 calls in flight):
 *
 * - an incident's first run: the store's batched writes (`writeChanges(…, { exclusive: true })`) against raw
 *   BatchWriteItem calls of 25 (the ceiling);
 * - a rerun: the store's conditional PutItem per changed line (on the version read) against raw unconditional
 *   PutItem: what correctness (no change applied twice, no race) costs.
 *
 * Each measurement gets a fresh DynamoDB Local (its stream records pile up and slow it down) and the same lines.
 * `--lines N` (default 20,000). Prints lines/s and ratios; no assertion (speed is not a test).
 *
 * Then the whole `hiwari run` against the same ceilings (scripts/bench/run-ceiling.ts: `--runs N`, `--keep DIR`,
 * `--batch-size N` for `hiwari run`'s; `--store-only` skips it).
 */
import { parseArgs } from "node:util";
import { BatchWriteItemCommand, PutItemCommand, type WriteRequest } from "@aws-sdk/client-dynamodb";
import { startDynamoDbLocal } from "../../bin/io/dynamodb-local";
import { createTables } from "../../functions/commons/dynamodb/create-tables";
import { DynamoDbRefundStore } from "../../functions/commons/dynamodb/dynamodb-refund-store";
import { toItem } from "../../functions/commons/dynamodb/line-item";
import { lineIdOf } from "../../shared/reconcile/line-identity";
import { type KeyedLine, reconcile } from "../../shared/reconcile/reconcile";
import { eachLimited } from "./stats";

const TABLES = { refunds: "refunds", runs: "runs" };
const CONCURRENCY = 16; // the store's default
const INCIDENT = "bench-incident";

const { values } = parseArgs({
  options: {
    lines: { type: "string", default: "20000" },
    runs: { type: "string", default: "1" },
    keep: { type: "string" },
    "batch-size": { type: "string" },
    "store-only": { type: "boolean", default: false },
  },
});
const count = Number(values.lines);
if (!Number.isInteger(count) || count < 1)
  throw new Error(`--lines: must be a positive whole number (got ${values.lines})`);

/** N lines of one incident, one subscription each, as the engine computes them (December 2011, 3 days of 31). */
function lines(n: number, amount: bigint): KeyedLine[] {
  return Array.from({ length: n }, (_, i) => {
    const line = {
      subscriptionId: `C-${String(i).padStart(9, "0")}`,
      subscriberId: `S-${String(i).padStart(9, "0")}`,
      serviceCode: i % 2 === 0 ? "IMADOKO" : "DRIVENET",
      periodStart: "2011-12-01",
      periodEnd: "2012-01-01",
      unit: "day" as const,
      units: 3,
      basis: 31,
      amount,
      currency: "JPY",
    };
    return { ...line, lineId: lineIdOf(INCIDENT, line) };
  });
}

/** Seconds `write` takes on a fresh DynamoDB Local, after `prepare` (not timed) has run there. */
async function measure(
  prepare: (store: DynamoDbRefundStore) => Promise<void>,
  write: (store: DynamoDbRefundStore, send: (command: never) => Promise<unknown>) => Promise<void>,
): Promise<number> {
  const db = await startDynamoDbLocal();
  try {
    await createTables(db.client, TABLES);
    const store = new DynamoDbRefundStore(db.client, TABLES, CONCURRENCY);
    await prepare(store);
    const start = process.hrtime.bigint();
    await write(store, (command) => db.client.send(command));
    return Number(process.hrtime.bigint() - start) / 1e9;
  } finally {
    await db.stop();
  }
}

const now = new Date().toISOString();
const first = lines(count, 20n);
const firstChanges = reconcile([], first, "run-1").changes;
const itemsOf = (changes: typeof firstChanges) => changes.map((c) => toItem(INCIDENT, c.next, now));

const storeBatched = await measure(
  async () => {},
  (store) => store.writeChanges(firstChanges, { exclusive: true }),
);
const rawBatched = await measure(
  async () => {},
  async (_store, send) => {
    const items = itemsOf(firstChanges);
    const chunks: WriteRequest[][] = [];
    for (let i = 0; i < items.length; i += 25)
      chunks.push(items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })));
    await eachLimited(chunks, CONCURRENCY, async (chunk) => {
      let pending = chunk;
      while (pending.length > 0) {
        const answer = (await send(
          new BatchWriteItemCommand({ RequestItems: { [TABLES.refunds]: pending } }) as never,
        )) as {
          UnprocessedItems?: Record<string, WriteRequest[]>;
        };
        pending = answer.UnprocessedItems?.[TABLES.refunds] ?? [];
      }
    });
  },
);
// A rerun that changes every line: the stored version 1 is read first (not timed), then each line is adjusted.
const adjust = async (store: DynamoDbRefundStore) => {
  await store.writeChanges(firstChanges, { exclusive: true });
};
const stored = firstChanges.map((c) => ({ ...c.next }));
const rerunChanges = reconcile(stored, lines(count, 13n), "run-2").changes;
const storeConditional = await measure(adjust, (store) => store.writeChanges(rerunChanges));
const rawPut = await measure(adjust, async (_store, send) => {
  await eachLimited(itemsOf(rerunChanges), CONCURRENCY, async (Item) => {
    await send(new PutItemCommand({ TableName: TABLES.refunds, Item }) as never);
  });
});

const rate = (seconds: number) => Math.round(count / seconds).toLocaleString("en-US");
const rows = [
  ["first run: store, batched (BatchWriteItem of 25)", storeBatched, rawBatched],
  ["first run: raw BatchWriteItem of 25 (ceiling)", rawBatched, rawBatched],
  ["rerun: store, conditional PutItem on the version", storeConditional, rawPut],
  ["rerun: raw unconditional PutItem", rawPut, rawPut],
] as const;
process.stdout.write(
  `# write path into DynamoDB Local: ${count.toLocaleString("en-US")} lines, ${CONCURRENCY} calls in flight\n\n`,
);
process.stdout.write("| what | seconds | lines/s | ÷ its raw primitive |\n|---|--:|--:|--:|\n");
for (const [what, seconds, raw] of rows)
  process.stdout.write(`| ${what} | ${seconds.toFixed(2)} | ${rate(seconds)} | ${(seconds / raw).toFixed(2)}× |\n`);
process.stdout.write(
  `\nconditional rerun writes ÷ batched first-run writes: ${(storeConditional / storeBatched).toFixed(2)}× the time\n`,
);

if (!values["store-only"]) {
  const { runAgainstCeiling } = await import("./run-ceiling");
  const batchSize = values["batch-size"] === undefined ? undefined : Number(values["batch-size"]);
  await runAgainstCeiling({ runs: Number(values.runs), keep: values.keep, batchSize });
}
