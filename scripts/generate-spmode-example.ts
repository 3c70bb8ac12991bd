/**
 * Writes examples/spmode-2011/: the sp-mode incident of December 2011 and a deterministic, realistic snapshot of
 * subscriptions, and a small file of bad rows for the bad-input demo. Run: npm run example:generate
 *
 * Two populations overlap in the snapshot, as they did in 2011: the subscribers of the two suspended services
 * (refunded by the day, every one of them: the windows have no `where`) and the 19,000 victims of the mail mix-up
 * (14,000 swapped, 5,000 misdelivered), marked in an extra column `mail_victim` on every row of theirs, who get
 * the apology credit (goodwill scope "active", `where` on that column). Most victims have sp-mode mail only.
 */
import { writeFileSync } from "node:fs";
import { SUBSCRIPTION_COLUMNS } from "../shared/input/subscription-row";
import { exampleJson } from "./example-json";
import { pad, seededRandom as random, weightedPick } from "./seeded-random";

const DIR = "examples/spmode-2011";
const SUBSCRIBERS = 32_000;
const SWAPPED = 14_000;
const MISDELIVERED = 5_000;
const VICTIM_COLUMN = "mail_victim";
const COLUMNS = [...SUBSCRIPTION_COLUMNS, VICTIM_COLUMN] as const;

const rnd = random(20111220);
const pick = weightedPick(rnd);
const shuffle = <T>(list: T[]): T[] => {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [list[i], list[j]] = [list[j] as T, list[i] as T];
  }
  return list;
};

const WINDOW = { start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" };
const incident = {
  incidentId: "spmode-2011-12",
  title: "sp-mode mail address mix-up: location and navigation services suspended",
  timeZone: "Asia/Tokyo",
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  suspensions: [
    { serviceCode: "IMADOKO", ...WINDOW },
    { serviceCode: "DRIVENET", ...WINDOW },
  ],
  goodwill: {
    amount: 200,
    currency: "JPY",
    scope: "active",
    where: { [VICTIM_COLUMN]: ["swapped", "misdelivered"] },
  },
};

type Row = Record<(typeof COLUMNS)[number], string>;
type Shape = "whole" | "joined-during" | "left-during" | "ended-before" | "joined-after" | "left-that-evening";
const rows: Row[] = [];
let subscriptionNo = 0;
const FEES: Record<string, string> = { IMADOKO: "210", DRIVENET: "315", SPMAIL: "315", MUSIC: "525" };

function activeFrom(): string {
  const y = pick([
    [2009, 1],
    [2010, 3],
    [2011, 4],
  ]);
  const m = 1 + Math.floor(rnd() * (y === 2011 ? 11 : 12));
  const d = 1 + Math.floor(rnd() * 28);
  return rnd() < 0.5
    ? `${y}-${pad(m, 2)}-${pad(d, 2)}`
    : `${y}-${pad(m, 2)}-${pad(d, 2)}T${pad(Math.floor(rnd() * 24), 2)}:${pad(Math.floor(rnd() * 60), 2)}:00+09:00`;
}

function subscribe(subscriber: string, victim: string, service: string, shape: Shape): void {
  subscriptionNo++;
  let from = activeFrom();
  let to = "";
  if (shape === "joined-during")
    from = `2011-12-21T${pad(8 + Math.floor(rnd() * 12), 2)}:${pad(Math.floor(rnd() * 60), 2)}:00+09:00`;
  if (shape === "left-during") to = rnd() < 0.5 ? "2011-12-21" : "2011-12-22T09:00:00+09:00";
  if (shape === "ended-before") to = "2011-11-30";
  // A victim who cancelled on the evening of the mix-up, before the suspension began: not active in it.
  if (shape === "left-that-evening") to = "2011-12-20T21:00:00+09:00";
  if (shape === "joined-after")
    from = pick([
      ["2011-12-23", 1],
      ["2012-01-05", 1],
      ["2011-12-22T14:00:00+09:00", 1],
    ]);
  const overseas = rnd() < 0.02;
  rows.push({
    subscription_id: `SUB-${pad(subscriptionNo, 7)}`,
    subscriber_id: subscriber,
    service_code: service,
    monthly_fee: FEES[service] as string,
    currency: "JPY",
    active_from: from,
    active_to: to,
    time_zone: overseas
      ? pick([
          ["America/Los_Angeles", 1],
          ["Europe/London", 1],
          ["Asia/Singapore", 1],
        ])
      : rnd() < 0.1
        ? "Asia/Tokyo"
        : "",
    billing_day: pick([
      ["", 70],
      ["1", 5],
      ["10", 5],
      ["15", 5],
      ["20", 5],
      ["25", 5],
      ["31", 5],
    ]),
    mail_victim: victim,
  });
}

// Who was a victim is decided first (exactly 14,000 + 5,000 subscribers, spread at random); a victim used sp-mode
// mail on the 20th, so has a sp-mode row (SPMAIL) that was active then.
const victims = shuffle([
  ...Array<string>(SWAPPED).fill("swapped"),
  ...Array<string>(MISDELIVERED).fill("misdelivered"),
  ...Array<string>(SUBSCRIBERS - SWAPPED - MISDELIVERED).fill(""),
]);
for (let i = 1; i <= SUBSCRIBERS; i++) {
  const subscriber = `SP-${pad(i, 6)}`;
  const victim = victims[i - 1] as string;
  if (victim !== "")
    subscribe(
      subscriber,
      victim,
      "SPMAIL",
      pick<Shape>([
        ["whole", 970],
        ["left-during", 28],
        ["left-that-evening", 2],
      ]),
    );
  else if (rnd() < 0.7)
    subscribe(
      subscriber,
      victim,
      "SPMAIL",
      pick<Shape>([
        ["whole", 90],
        ["ended-before", 4],
        ["joined-after", 3],
        ["joined-during", 3],
      ]),
    );
  // The two suspended services, victims or not: every subscriber of theirs is refunded by the day.
  if (rnd() < 0.45) {
    const affected = rnd() < 0.92;
    const services = affected
      ? pick([
          [["IMADOKO"], 55],
          [["DRIVENET"], 35],
          [["IMADOKO", "DRIVENET"], 10],
        ])
      : [
          pick([
            ["IMADOKO", 1],
            ["DRIVENET", 1],
          ]),
        ];
    for (const s of services)
      subscribe(
        subscriber,
        victim,
        s,
        affected
          ? pick<Shape>([
              ["whole", 96],
              ["joined-during", 2],
              ["left-during", 2],
            ])
          : pick<Shape>([
              ["ended-before", 1],
              ["joined-after", 1],
            ]),
      );
  }
  if (rnd() < 0.15) subscribe(subscriber, victim, "MUSIC", pick<Shape>([["whole", 1]])); // no window names it
}
shuffle(rows); // a snapshot is in no particular order

const csv = (list: Row[]) =>
  `${[COLUMNS.join(","), ...list.map((r) => COLUMNS.map((c) => r[c]).join(","))].join("\n")}\n`;
writeFileSync(`${DIR}/incident.json`, exampleJson(incident));
writeFileSync(`${DIR}/subscriptions.csv`, csv(rows));

// The bad-input demo: a few good rows around one bad row of each kind (ten fields to a record, as the header).
const good = rows.slice(0, 4);
const bad = [
  "SUB-9000001,SP-900001,IMADOKO,210,JPY,2011-02-30,,,,",
  "SUB-9000002,SP-900002,IMADOKO, 210,JPY,2011-01-01,,,,",
  "SUB-9000003,SP-900003,DRIVENET,315,JPY,2011-01-01,2011-12-01T25:00:00+09:00,,,",
  "SUB-9000004,SP-900004,DRIVENET,315,JPY,2011-01-01,,JST,,swapped",
  "SUB-9000005,SP-900005,IMADOKO,210,JPY,2011-01-01,,,1,,extra",
  "SUB-9000006,SP-900006,IMADOKO,210,JPY,2011-01-01,,,",
  "SUB-9000007,SP-900007,IMADOKO,210,yen,2011-01-01,,,,",
  "SUB-9000008,SP-900008,IMADOKO,210,JPY,2011-06-01,2011-05-01,,,",
  "SUB-9000009,SP-900009,IMADOKO,210,JPY,2011-01-01,,,32,",
  "SUB-9000010,SP-900010,DRIVENET,315,JPY,2011-01-01,,,,",
  "SUB-9000010,SP-900011,DRIVENET,315,JPY,2011-01-01,,,,misdelivered",
];
const badText = csv(good).trimEnd().split("\n");
badText.splice(3, 0, ...bad);
writeFileSync(`${DIR}/bad-rows.csv`, `${badText.join("\n")}\n`);
console.log(`${rows.length} subscriptions, ${bad.length} bad rows written to ${DIR}/`);
