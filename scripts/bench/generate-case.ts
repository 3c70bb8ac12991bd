/**
 * Writes the benchmark case: `incident.json` (the sp-mode incident of December 2011, calendar-day, actual days,
 * floor, no goodwill) and `subscriptions.csv` with N valid rows of its two services, all billed on the 1st in the
 * incident's zone (Asia/Tokyo), all active before the window, about 5% ending inside it. Every row yields exactly one
 * refund line, so rows and lines are comparable. Deterministic: the same N gives the same bytes on every machine.
 *
 * It streams (10 M rows are about 700 MB): rows are formatted into ~1 MB chunks and written with back-pressure.
 *
 * The scoped case (contract v2, issue 13; `scoped: true`) writes the same rows with one extra column, `plan`
 * (`basic`, `premium` or `family`, from a generator of its own so that the other columns are the same bytes), placed
 * after `service_code`, not last, into `incident-scoped.json` and `subscriptions-scoped.csv`: see `SCOPED_INCIDENT`.
 *
 * Run alone: npx tsx scripts/bench/generate-case.ts --rows 1000000 --dir /tmp/case [--scoped]
 */
import { once } from "node:events";
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { SUBSCRIPTION_COLUMNS } from "../../shared/input/subscription-row";
import { seededRandom as random } from "../seeded-random";

/** The sample's windows (examples/spmode-2011); no goodwill, so the SQL baseline stays one plain query. */
export const INCIDENT = {
  incidentId: "bench-spmode-2011-12",
  title: "npm run bench: the sp-mode incident at scale",
  timeZone: "Asia/Tokyo",
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  suspensions: [
    { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" },
    { serviceCode: "DRIVENET", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" },
  ],
};
/**
 * The scoped case (contract v2): IMADOKO gets a second window, on the 24th, for the `premium` plan only (`where`), so
 * a premium row's E is two pieces (one more day in December; rows ending inside the first window do not reach it),
 * and a goodwill of 200 JPY with `scope: "active"`: every subscriber with a row active inside the incident's span
 * (the 20th 23:30 to the 24th 18:00) is credited, which here is every subscriber. Still one refund line per row, plus
 * one goodwill line per subscriber. Not a shape the DuckDB query handles (two windows, goodwill).
 */
export const SCOPED_INCIDENT = {
  ...INCIDENT,
  incidentId: "bench-spmode-2011-12-scoped",
  title: "npm run bench: the sp-mode incident at scale, scoped (contract v2)",
  suspensions: [
    ...INCIDENT.suspensions,
    {
      serviceCode: "IMADOKO",
      start: "2011-12-24T09:00:00+09:00",
      end: "2011-12-24T18:00:00+09:00",
      where: { plan: ["premium"] },
    },
  ],
  goodwill: { amount: 200, currency: "JPY", scope: "active" },
};
const PLANS = ["basic", "basic", "premium", "family"] as const;

const FEES = { DRIVENET: "315", IMADOKO: "210" } as const;

/**
 * Ends inside the window [2011-12-20 23:30, 2011-12-22 14:00) JST, chosen to exercise the calendar-day edges: a date
 * is local midnight (so `2011-12-21` leaves only the 20th), an instant ending at midnight does not touch the next
 * day, and a `Z` instant must be moved to Tokyo time before its date is taken (15:00Z is midnight of the 22nd).
 */
const ENDS_INSIDE = [
  "2011-12-21", // the 20th only: 1 day
  "2011-12-22", // 20th, 21st: 2
  "2011-12-21T00:00:00+09:00", // 1
  "2011-12-21T12:00:00+09:00", // 2
  "2011-12-21T15:00:00Z", // midnight of the 22nd in Tokyo: 2
  "2011-12-22T09:00:00+09:00", // 3
  "2011-12-20T23:45:00+09:00", // 15 minutes of the 20th: 1
];

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** The files a case is written to: the unscoped case's, or the scoped one's (same rows, one more column). */
export const caseFiles = (dir: string, scoped = false) => ({
  incident: join(dir, scoped ? "incident-scoped.json" : "incident.json"),
  subscriptions: join(dir, scoped ? "subscriptions-scoped.csv" : "subscriptions.csv"),
});

/** Writes the case (or the scoped one) into `dir`; returns the CSV's size in bytes. */
export async function generateCase(dir: string, rows: number, seed = 20111220, scoped = false): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const files = caseFiles(dir, scoped);
  writeFileSync(files.incident, `${JSON.stringify(scoped ? SCOPED_INCIDENT : INCIDENT, null, 2)}\n`);
  const rnd = random(seed);
  // The plan column has a generator of its own: the other columns stay the unscoped case's bytes.
  const planRnd = random(seed ^ 0x5c0bed);
  const columns: string[] = [...SUBSCRIPTION_COLUMNS];
  if (scoped) columns.splice(columns.indexOf("service_code") + 1, 0, "plan");
  const int = (n: number) => Math.floor(rnd() * n);
  /** Before the window: a date (local midnight) or an instant, half each, 2009-01 to 2011-11. */
  const activeFrom = () => {
    const day = `${2009 + int(3)}-${pad(1 + int(11), 2)}-${pad(1 + int(28), 2)}`;
    return rnd() < 0.5 ? day : `${day}T${pad(int(24), 2)}:${pad(int(60), 2)}:00+09:00`;
  };

  const out = createWriteStream(files.subscriptions);
  let bytes = 0;
  let chunk = `${columns.join(",")}\n`;
  const flush = async () => {
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, "drain");
    chunk = "";
  };
  let subscriber = 0;
  for (let i = 1; i <= rows; i++) {
    // One subscriber holds one service, or (one in ten) both: the second row then shares the previous subscriber.
    const second = i > 1 && rnd() < 0.1;
    if (!second) subscriber++;
    const service = rnd() < 0.55 ? "IMADOKO" : "DRIVENET";
    const activeTo = rnd() < 0.05 ? (ENDS_INSIDE[int(ENDS_INSIDE.length)] as string) : "";
    const billingDay = rnd() < 0.9 ? "" : "1"; // empty means 1 (the contract)
    const plan = scoped ? `${PLANS[Math.floor(planRnd() * PLANS.length)]},` : "";
    // Columns in the contract's order (the scoped case's plan after service_code); time_zone empty: the incident's.
    chunk += `SUB-${pad(i, 8)},SP-${pad(subscriber, 8)},${service},${plan}${FEES[service]},JPY,${activeFrom()},${activeTo},,${billingDay}\n`;
    if (chunk.length > 1 << 20) await flush();
  }
  await flush();
  out.end();
  await once(out, "close");
  return bytes;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { rows: { type: "string" }, dir: { type: "string" }, scoped: { type: "boolean" } },
  });
  if (!values.rows || !values.dir) throw new Error("usage: generate-case.ts --rows N --dir DIR [--scoped]");
  const bytes = await generateCase(values.dir, Number(values.rows), undefined, values.scoped);
  console.log(`${values.rows} rows, ${bytes} bytes written to ${values.dir}/`);
}
