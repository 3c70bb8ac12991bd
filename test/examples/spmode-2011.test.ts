import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { run } from "../helpers/factories";

const DIR = "examples/spmode-2011";
const incident = JSON.parse(readFileSync(`${DIR}/incident.json`, "utf8"));

describe("examples/spmode-2011", () => {
  it("refunds the 19,000 affected subscribers: one goodwill line each, 20 and 30 yen for those billed on the 1st", async () => {
    const { lines, counts } = await run(incident, readFileSync(`${DIR}/subscriptions.csv`, "utf8"));
    expect(counts).toMatchObject({ rows: 42_123, rejected: 0, goodwillLines: 19_000 });
    expect(counts.rows).toBe(counts.computed + counts.skipped + counts.rejected);
    const firstOfMonth = lines.filter((l) => l.periodStart === "2011-12-01" && l.units === 3);
    expect(new Set(firstOfMonth.map((l) => `${l.serviceCode}:${l.amount}`))).toEqual(
      new Set(["IMADOKO:20", "DRIVENET:30"]),
    );
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
