/**
 * Reads hiwari's local events (`.hiwari/events.jsonl` by default) as a billing system would read its queue, and
 * prints what is owed per currency. Run: npx tsx examples/billing-consumer/consume-file.ts [events.jsonl]
 */
import { readFileSync } from "node:fs";
import { newLedger, post } from "./ledger";

const file = process.argv[2] ?? ".hiwari/events.jsonl";
const ledger = newLedger();
const outcome = { posted: 0, duplicate: 0, "run-completed": 0 };
for (const line of readFileSync(file, "utf8").split("\n")) {
  if (line.trim()) outcome[post(ledger, JSON.parse(line))]++;
}
const perCurrency = new Map<string, bigint>();
for (const [account, amount] of ledger.balances) {
  const currency = account.slice(account.lastIndexOf(" ") + 1);
  perCurrency.set(currency, (perCurrency.get(currency) ?? 0n) + amount);
}
console.log(
  `${outcome.posted} posted, ${outcome.duplicate} duplicates skipped, ${outcome["run-completed"]} runs completed`,
);
for (const [currency, amount] of perCurrency)
  console.log(`owed: ${amount.toLocaleString("en-US")} ${currency} to ${ledger.balances.size} accounts`);
