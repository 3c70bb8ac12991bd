/**
 * Writes examples/kddi-2022/: the KDDI outage of July 2022 and a deterministic, realistic snapshot of lines with
 * two extra columns, `brand` (au, UQ mobile, povo) and `plan`. Run: npm run example:generate:kddi
 *
 * The incident is refunded as it was: under the terms (`full-24h`, whole 24-hour blocks) only the lines that had
 * no service at all for 24 hours or more, the voice-only plans (a `where` on the window), get the basic fee back;
 * every au and UQ mobile subscriber under contract during the outage gets the 200-yen apology (goodwill scope
 * "active", `where` on brand); povo 2.0 (no monthly fee) gets neither.
 */
import { writeFileSync } from "node:fs";
import { SUBSCRIPTION_COLUMNS } from "../shared/input/subscription-row";
import { exampleJson } from "./example-json";
import { pad, seededRandom as random, weightedPick } from "./seeded-random";

const DIR = "examples/kddi-2022";
const SUBSCRIBERS = 14_000;
const COLUMNS = [...SUBSCRIPTION_COLUMNS, "brand", "plan"] as const;

const rnd = random(20220702);
const pick = weightedPick(rnd);

const incident = {
  incidentId: "kddi-2022-07",
  title: "KDDI network outage: voice and data unavailable nationwide",
  timeZone: "Asia/Tokyo",
  policy: { rule: "full-24h", dayBasis: 30, rounding: "floor" },
  suspensions: [
    {
      serviceCode: "BASIC",
      start: "2022-07-02T01:35:00+09:00",
      end: "2022-07-04T15:00:00+09:00",
      where: { plan: ["voice-only"] },
    },
  ],
  goodwill: { amount: 200, currency: "JPY", scope: "active", where: { brand: ["au", "UQ mobile"] } },
};

type Brand = "au" | "UQ mobile" | "povo";
type Row = Record<(typeof COLUMNS)[number], string>;
/** Each brand's plans: the plan column's value, the basic fee (yen a month) and a weight. */
const PLANS: Record<Brand, [[string, string], number][]> = {
  au: [
    [["voice-only", "1650"], 8],
    [["voice-only", "1320"], 4],
    [["data-unlimited", "7238"], 50],
    [["data-tiered", "3465"], 38],
  ],
  "UQ mobile": [
    [["data-s", "1628"], 60],
    [["data-m", "2728"], 40],
  ],
  povo: [[["povo2.0", "0"], 1]],
};
/** Options billed monthly on a line, services the incident does not name (no refund, but they are contracts). */
const OPTIONS: Record<Brand, [string, string][]> = {
  au: [
    ["KAKEHODAI", "1870"],
    ["SMARTPASS", "548"],
  ],
  "UQ mobile": [["KAKEHODAI", "1870"]],
  povo: [], // no monthly fee, no monthly options: toppings are bought as needed
};

const rows: Row[] = [];
let lineNo = 0;

/** When the line was active: mostly throughout; some joined or left during the outage, some outside it. */
function activeSpan(): [string, string] {
  const y = pick([
    [2016, 1],
    [2018, 2],
    [2020, 3],
    [2021, 4],
    [2022, 2],
  ]);
  const m = 1 + Math.floor(rnd() * (y === 2022 ? 6 : 12));
  const d = 1 + Math.floor(rnd() * 28);
  const since =
    rnd() < 0.5
      ? `${y}-${pad(m, 2)}-${pad(d, 2)}`
      : `${y}-${pad(m, 2)}-${pad(d, 2)}T${pad(Math.floor(rnd() * 24), 2)}:${pad(Math.floor(rnd() * 60), 2)}:00+09:00`;
  const shape = pick([
    ["whole", 94],
    ["joined-during", 1.5],
    ["left-during", 1.5],
    ["ended-before", 1.5],
    ["joined-after", 1.5],
  ]);
  if (shape === "joined-during")
    return [
      pick([
        ["2022-07-02T12:00:00+09:00", 1],
        ["2022-07-03T10:00:00+09:00", 1],
        ["2022-07-04", 1],
      ]),
      "",
    ];
  if (shape === "left-during")
    return [
      since,
      pick([
        ["2022-07-03", 1],
        ["2022-07-04", 1],
        ["2022-07-04T12:00:00+09:00", 1],
      ]),
    ];
  if (shape === "ended-before")
    return [
      since,
      pick([
        ["2022-06-30", 1],
        ["2022-07-02T01:35:00+09:00", 1],
      ]),
    ];
  if (shape === "joined-after")
    return [
      pick([
        ["2022-07-04T15:00:00+09:00", 1],
        ["2022-07-10", 1],
      ]),
      "",
    ];
  return [since, ""];
}

function line(subscriber: string, brand: Brand): void {
  const [plan, fee] = pick(PLANS[brand]);
  const [from, to] = activeSpan();
  const common = {
    subscriber_id: subscriber,
    currency: "JPY",
    active_from: from,
    active_to: to,
    time_zone: rnd() < 0.1 ? "Asia/Tokyo" : "",
    billing_day: pick([
      ["", 80],
      ["1", 5],
      ["3", 5],
      ["15", 5],
      ["25", 5],
    ]),
    brand,
    plan,
  };
  lineNo++;
  rows.push({ ...common, subscription_id: `LN-${pad(lineNo, 7)}`, service_code: "BASIC", monthly_fee: fee });
  for (const [service, optionFee] of OPTIONS[brand]) {
    if (rnd() >= (plan === "voice-only" ? 0.1 : 0.2)) continue;
    lineNo++;
    rows.push({ ...common, subscription_id: `LN-${pad(lineNo, 7)}`, service_code: service, monthly_fee: optionFee });
  }
}

for (let i = 1; i <= SUBSCRIBERS; i++) {
  const subscriber = `KD-${pad(i, 6)}`;
  const brand = pick<Brand>([
    ["au", 65],
    ["UQ mobile", 25],
    ["povo", 10],
  ]);
  const lines =
    brand === "povo"
      ? 1
      : pick([
          [1, 85],
          [2, 12],
          [3, 3],
        ]);
  for (let n = 0; n < lines; n++) line(subscriber, brand);
}
// Shuffle deterministically: a snapshot is in no particular order.
for (let i = rows.length - 1; i > 0; i--) {
  const j = Math.floor(rnd() * (i + 1));
  [rows[i], rows[j]] = [rows[j] as Row, rows[i] as Row];
}

const csv = (list: Row[]) =>
  `${[COLUMNS.join(","), ...list.map((r) => COLUMNS.map((c) => r[c]).join(","))].join("\n")}\n`;
writeFileSync(`${DIR}/incident.json`, exampleJson(incident));
writeFileSync(`${DIR}/subscriptions.csv`, csv(rows));
console.log(`${rows.length} subscriptions written to ${DIR}/`);
