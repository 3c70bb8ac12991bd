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
 * The month-end case (issue 16; `generateMonthEndCase`): two services suspended across a month end, about 1.5 lines a
 * row, 10% of rows ending inside the window: see `MONTH_END_INCIDENT`.
 *
 * Run alone: npx tsx scripts/bench/generate-case.ts --rows 1000000 --dir /tmp/case [--scoped | --month-end]
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

/** A case's random draws: `int(n)` in [0, n), and a start before the windows (a date or an instant, 2009-01 to 2011-11). */
function draws(rnd: () => number) {
  const int = (n: number) => Math.floor(rnd() * n);
  const activeFrom = () => {
    const day = `${2009 + int(3)}-${pad(1 + int(11), 2)}-${pad(1 + int(28), 2)}`;
    return rnd() < 0.5 ? day : `${day}T${pad(int(24), 2)}:${pad(int(60), 2)}:00+09:00`;
  };
  return { int, activeFrom };
}

/**
 * Writes a CSV of `rows` rows (`row(i)`, 1-based, each ending in a line feed) under `columns`, 1 MiB at a time;
 * returns its size in bytes.
 */
async function writeRows(
  file: string,
  columns: readonly string[],
  rows: number,
  row: (i: number) => string,
): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  let chunk = `${columns.join(",")}\n`;
  const flush = async () => {
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, "drain");
    chunk = "";
  };
  for (let i = 1; i <= rows; i++) {
    chunk += row(i);
    if (chunk.length > 1 << 20) await flush();
  }
  await flush();
  out.end();
  await once(out, "close");
  return bytes;
}

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
  const { int, activeFrom } = draws(rnd);
  let subscriber = 0;
  return writeRows(files.subscriptions, columns, rows, (i) => {
    // One subscriber holds one service, or (one in ten) both: the second row then shares the previous subscriber.
    const second = i > 1 && rnd() < 0.1;
    if (!second) subscriber++;
    const service = rnd() < 0.55 ? "IMADOKO" : "DRIVENET";
    const activeTo = rnd() < 0.05 ? (ENDS_INSIDE[int(ENDS_INSIDE.length)] as string) : "";
    const billingDay = rnd() < 0.9 ? "" : "1"; // empty means 1 (the contract)
    const plan = scoped ? `${PLANS[Math.floor(planRnd() * PLANS.length)]},` : "";
    // Columns in the contract's order (the scoped case's plan after service_code); time_zone empty: the incident's.
    return `SUB-${pad(i, 8)},SP-${pad(subscriber, 8)},${service},${plan}${FEES[service]},JPY,${activeFrom()},${activeTo},,${billingDay}\n`;
  });
}

/**
 * The month-end case (issue 16): the shape of an outside case that ran 4.3× the I/O floor where the bench's case ran
 * 2.1×. Two services (IMADOKO 210, DRIVENET 315 JPY), one window each across a month end (the 30th 20:00 JST to the
 * 2nd 10:00), so a row billed on the 1st gets two lines (December's two days, January's two) and a row billed on a
 * day from the 3rd to the 28th one (the window falls inside one of its periods): half the rows each, 1.5 lines a row
 * (a bit less: rows that end inside the window before January get one). 10% of the rows end inside the window, at
 * dates and instants of every form; some subscribers hold both services. No goodwill: the same lines-per-row work
 * as the bench's case, with more lines and more row classes (billing days, clipped pieces).
 */
export const MONTH_END_INCIDENT = {
  incidentId: "bench-month-end-2011-12",
  title: "npm run bench: two services suspended across a month end",
  timeZone: "Asia/Tokyo",
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  suspensions: [
    { serviceCode: "IMADOKO", start: "2011-12-30T20:00:00+09:00", end: "2012-01-02T10:00:00+09:00" },
    { serviceCode: "DRIVENET", start: "2011-12-30T20:00:00+09:00", end: "2012-01-02T10:00:00+09:00" },
  ],
};

/** Ends inside the month-end window, before and after midnight of the 1st, as dates and instants. */
const ENDS_INSIDE_MONTH_END = [
  "2011-12-31", // the 30th only
  "2012-01-01", // the 30th, 31st
  "2012-01-02", // 30th to 1st: two periods for a row billed on the 1st
  "2011-12-31T12:00:00+09:00",
  "2012-01-01T03:00:00+09:00",
  "2011-12-31T15:00:00Z", // midnight of the 1st in Tokyo
  "2012-01-01T20:30:00+09:00",
];

/** The month-end case's files. */
export const monthEndFiles = (dir: string) => ({
  incident: join(dir, "incident-month-end.json"),
  subscriptions: join(dir, "subscriptions-month-end.csv"),
});

/** Writes the month-end case into `dir`; returns the CSV's size in bytes. */
export async function generateMonthEndCase(dir: string, rows: number, seed = 20111230): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const files = monthEndFiles(dir);
  writeFileSync(files.incident, `${JSON.stringify(MONTH_END_INCIDENT, null, 2)}\n`);
  const rnd = random(seed);
  const { int, activeFrom } = draws(rnd);
  let subscriber = 0;
  return writeRows(files.subscriptions, SUBSCRIPTION_COLUMNS, rows, (i) => {
    const second = i > 1 && rnd() < 0.2;
    if (!second) subscriber++;
    const service = rnd() < 0.5 ? "IMADOKO" : "DRIVENET";
    const activeTo = rnd() < 0.1 ? (ENDS_INSIDE_MONTH_END[int(ENDS_INSIDE_MONTH_END.length)] as string) : "";
    // Half billed on the 1st (empty or "1"), half on a day from the 3rd to the 28th.
    const billingDay = rnd() < 0.5 ? (rnd() < 0.8 ? "" : "1") : String(3 + int(26));
    return `MC-${pad(i, 9)},MS-${pad(subscriber, 9)},${service},${FEES[service]},JPY,${activeFrom()},${activeTo},,${billingDay}\n`;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      rows: { type: "string" },
      dir: { type: "string" },
      scoped: { type: "boolean" },
      "month-end": { type: "boolean" },
    },
  });
  if (!values.rows || !values.dir)
    throw new Error("usage: generate-case.ts --rows N --dir DIR [--scoped | --month-end]");
  const bytes = values["month-end"]
    ? await generateMonthEndCase(values.dir, Number(values.rows))
    : await generateCase(values.dir, Number(values.rows), undefined, values.scoped);
  console.log(`${values.rows} rows, ${bytes} bytes written to ${values.dir}/`);
}
