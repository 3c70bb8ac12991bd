import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type Computed, run } from "../helpers/factories";
import { activeIn, linesOfSubscriber, snapshotRows } from "./snapshot-rows";

const DIR = "examples/kddi-2022";
const incident = JSON.parse(readFileSync(`${DIR}/incident.json`, "utf8"));
const csv = readFileSync(`${DIR}/subscriptions.csv`, "utf8");
const rows = snapshotRows(csv);
const rowOf = new Map(rows.map((r) => [r.subscription_id, r]));
const [START, END] = ["2022-07-02T01:35:00+09:00", "2022-07-04T15:00:00+09:00"];
const duringOutage = (r: (typeof rows)[number]) => activeIn(r, "Asia/Tokyo", START, END);
/** Both engines over the sample, once for the whole file. */
let sample: Promise<Computed> | undefined;
const computeSample = () => {
  sample ??= run(incident, csv);
  return sample;
};

describe("examples/kddi-2022", () => {
  it("refunds whole 24-hour blocks of the basic fee to voice-only lines only: 110 yen for 1,650 yen a month", async () => {
    // Act
    const { lines, counts } = await computeSample();
    // Assess
    expect(counts).toMatchObject({ rows: 21_169, computed: 16_210, skipped: 4_959, rejected: 0, lines: 13_549 });
    expect(counts.totals).toEqual([
      { serviceCode: "BASIC", currency: "JPY", lines: 1_261, amount: 122_716n },
      { serviceCode: null, currency: "JPY", lines: 12_288, amount: 2_457_600n },
    ]);
    const refunds = lines.filter((l) => l.unit === "day");
    expect(refunds.every((l) => rowOf.get(l.subscriptionId as string)?.plan === "voice-only")).toBe(true);
    expect(refunds.every((l) => l.serviceCode === "BASIC" && l.basis === 30)).toBe(true);
    // Billed on the 1st, both blocks (from 01:35 on the 2nd and on the 3rd) in July: floor(1650 × 2 / 30) = 110.
    const july = refunds.filter((l) => l.periodStart === "2022-07-01" && l.units === 2);
    expect(new Set(july.map((l) => `${rowOf.get(l.subscriptionId as string)?.monthly_fee}:${l.amount}`))).toEqual(
      new Set(["1650:110", "1320:88"]),
    );
    expect(july.filter((l) => l.amount === 110n)).toHaveLength(663);
    // Billed on the 3rd, the blocks fall in two periods: floor(1650 × 1 / 30) = 55 in each.
    const split = refunds.filter((l) => rowOf.get(l.subscriptionId as string)?.monthly_fee === "1650" && l.units === 1);
    expect(split.filter((l) => l.periodStart === "2022-06-03").map((l) => l.amount)).toEqual(Array(40).fill(55n));
    expect(split.filter((l) => l.periodStart === "2022-07-03").map((l) => l.amount)).toEqual(Array(40).fill(55n));
  });

  it("credits 200 yen once to every au and UQ mobile subscriber under contract during the outage, never povo", async () => {
    // Prepare
    const expected = new Set(
      rows.filter((r) => (r.brand === "au" || r.brand === "UQ mobile") && duringOutage(r)).map((r) => r.subscriber_id),
    );
    const povo = rows.filter((r) => r.brand === "povo");
    // Act
    const { lines, counts } = await computeSample();
    // Assess
    const goodwill = lines.filter((l) => l.unit === "goodwill");
    expect(goodwill.every((l) => l.amount === 200n && l.currency === "JPY")).toBe(true);
    expect(goodwill).toHaveLength(counts.goodwillLines);
    expect(new Set(goodwill.map((l) => l.subscriberId))).toEqual(expected);
    expect(expected.size).toBe(12_288);
    expect(povo.every((r) => r.monthly_fee === "0")).toBe(true);
    const povoSubscribers = new Set(povo.map((r) => r.subscriber_id));
    expect(povoSubscribers.size).toBe(1_366);
    expect(lines.filter((l) => povoSubscribers.has(l.subscriberId))).toEqual([]);
  });

  it("writes the README's worked lines", async () => {
    // Act
    const { lines } = await computeSample();
    // Assess
    const of = (subscriber: string) => linesOfSubscriber(lines, subscriber);
    expect(of("KD-013634")).toEqual([
      ["LN-0020622", "2022-07-01", "day", 2, 30, 110], // voice-only, 1,650 yen, billed on the 1st
      [null, null, "goodwill", 1, 1, 200],
    ]);
    expect(of("KD-009766")).toEqual([
      ["LN-0014763", "2022-06-03", "day", 1, 30, 55], // billed on the 3rd: the block from 01:35 on the 2nd
      ["LN-0014763", "2022-07-03", "day", 1, 30, 55], // and the block from 01:35 on the 3rd
      [null, null, "goodwill", 1, 1, 200],
    ]);
    expect(of("KD-011637")).toEqual([
      ["LN-0017591", "2022-06-25", "day", 1, 30, 55], // joined at 10:00 on the 3rd: 29 hours, one block
      [null, null, "goodwill", 1, 1, 200],
    ]);
    expect(of("KD-000167")).toEqual([[null, null, "goodwill", 1, 1, 200]]); // left at midnight on the 3rd: 22 h 25
    expect(of("KD-004617")).toEqual([[null, null, "goodwill", 1, 1, 200]]); // au, a data plan
    expect(of("KD-007639")).toEqual([]); // povo 2.0
  });
});
