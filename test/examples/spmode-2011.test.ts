import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type Computed, run } from "../helpers/factories";
import { activeIn, linesOfSubscriber, snapshotRows } from "./snapshot-rows";

const DIR = "examples/spmode-2011";
const incident = JSON.parse(readFileSync(`${DIR}/incident.json`, "utf8"));
const csv = readFileSync(`${DIR}/subscriptions.csv`, "utf8");
const rows = snapshotRows(csv);
const [START, END] = ["2011-12-20T23:30:00+09:00", "2011-12-22T14:00:00+09:00"];
const SUSPENDED = new Set(["IMADOKO", "DRIVENET"]);
const inWindow = (r: (typeof rows)[number]) => activeIn(r, "Asia/Tokyo", START, END);
const subscribersOf = (list: typeof rows) => new Set(list.map((r) => r.subscriber_id));
/** Both engines over the sample, once for the whole file (48,603 rows). */
let sample: Promise<Computed> | undefined;
const computeSample = () => {
  sample ??= run(incident, csv);
  return sample;
};

describe("examples/spmode-2011", () => {
  it("refunds every subscriber of the two suspended services by the day: 20 and 30 yen for those billed on the 1st", async () => {
    // Prepare
    const suspendedRows = rows.filter((r) => SUSPENDED.has(r.service_code as string) && inWindow(r));
    // Act
    const { lines, counts } = await computeSample();
    // Assess
    expect(counts).toMatchObject({ rows: 48_603, computed: 15_742, skipped: 32_861, rejected: 0, lines: 33_533 });
    expect(counts.totals).toEqual([
      { serviceCode: "DRIVENET", currency: "JPY", lines: 5_935, amount: 175_413n },
      { serviceCode: "IMADOKO", currency: "JPY", lines: 8_614, amount: 170_146n },
      { serviceCode: null, currency: "JPY", lines: 18_984, amount: 3_796_800n },
    ]);
    const refunds = lines.filter((l) => l.unit === "day");
    expect(new Set(refunds.map((l) => l.subscriptionId))).toEqual(new Set(suspendedRows.map((r) => r.subscription_id)));
    expect(subscribersOf(suspendedRows).size).toBe(13_186);
    const firstOfMonth = refunds.filter((l) => l.periodStart === "2011-12-01" && l.units === 3);
    expect(new Set(firstOfMonth.map((l) => `${l.serviceCode}:${l.amount}`))).toEqual(
      new Set(["IMADOKO:20", "DRIVENET:30"]),
    );
  });

  it("credits the 19,000 victims of the mix-up who had a row active in the window, once each, and no one else", async () => {
    // Prepare
    const victims = rows.filter((r) => r.mail_victim !== "");
    const activeVictims = subscribersOf(victims.filter(inWindow));
    const refunded = subscribersOf(rows.filter((r) => SUSPENDED.has(r.service_code as string) && inWindow(r)));
    // Act
    const { lines, counts } = await computeSample();
    // Assess
    expect(subscribersOf(victims.filter((r) => r.mail_victim === "swapped")).size).toBe(14_000);
    expect(subscribersOf(victims.filter((r) => r.mail_victim === "misdelivered")).size).toBe(5_000);
    const credited = lines.filter((l) => l.unit === "goodwill").map((l) => l.subscriberId);
    expect(counts.goodwillLines).toBe(18_984); // 16 victims had no contract left when the suspension began
    expect(credited).toHaveLength(activeVictims.size);
    expect(new Set(credited)).toEqual(activeVictims);
    expect([...activeVictims].filter((s) => !refunded.has(s))).toHaveLength(11_126); // credited, not refunded
    expect([...refunded].filter((s) => !activeVictims.has(s))).toHaveLength(5_328); // refunded, not credited
  });

  it("writes the README's worked lines", async () => {
    // Act
    const { lines } = await computeSample();
    // Assess
    const of = (subscriber: string) => linesOfSubscriber(lines, subscriber);
    expect(of("SP-000013")).toEqual([
      ["SUB-0000020", "2011-12-01", "day", 3, 31, 20], // IMADOKO, billed on the 1st: floor(210 × 3 / 31)
      [null, null, "goodwill", 1, 1, 200], // swapped
    ]);
    expect(of("SP-000011")).toEqual([["SUB-0000017", "2011-12-01", "day", 3, 31, 30]]); // DRIVENET, not a victim
    expect(of("SP-000015")).toEqual([[null, null, "goodwill", 1, 1, 200]]); // misdelivered, sp-mode mail only
    expect(of("SP-000371")).toEqual([[null, null, "goodwill", 1, 1, 200]]); // qualified by its MUSIC row
    expect(of("SP-002552")).toEqual([]); // a victim who left sp-mode at 21:00 on the 20th
  });

  it("reports each bad row of the bad-input demo once and computes the rows around them", async () => {
    const { rejects, counts } = await run(incident, readFileSync(`${DIR}/bad-rows.csv`, "utf8"));
    expect(rejects.map((r) => [r.line, r.field])).toEqual([
      [4, "active_from"],
      [5, "monthly_fee"],
      [6, "active_to"],
      [7, "time_zone"],
      [8, null],
      [9, null],
      [10, "currency"],
      [11, "active_to"],
      [12, "billing_day"],
      [13, "subscription_id"],
      [14, "subscription_id"],
    ]);
    expect(counts).toMatchObject({ rows: 15, rejected: 11 });
  });
});
