import { describe, expect, it } from "vitest";
import { csvOf, incidentDoc, row, run, summary } from "../../../helpers/factories";

describe("calendar-day", () => {
  it("refunds the sp-mode window as 3 local days of December (20th 23:30 to 22nd 14:00 JST)", async () => {
    // Prepare: 210 yen/month, billing day 1 → period 2011-12-01..2012-01-01 of 31 days
    const { lines } = await run(incidentDoc(), csvOf([row()]));
    // Assess: floor(210 × 3 / 31) = floor(20.32) = 20
    expect(summary(lines)).toEqual([{ sub: "C-1", period: "2011-12-01..2012-01-01", units: 3, basis: 31, amount: 20 }]);
  });

  it("splits a window across a month end between the two billing periods", async () => {
    const incident = incidentDoc({
      suspensions: [{ serviceCode: "IMADOKO", start: "2011-12-30T12:00:00+09:00", end: "2012-01-02T12:00:00+09:00" }],
    });
    const { lines } = await run(
      incident,
      csvOf([row({ monthly_fee: "310" }), row({ monthly_fee: "310", billing_day: "15" }, 2)]),
    );
    expect(summary(lines)).toEqual([
      { sub: "C-1", period: "2011-12-01..2012-01-01", units: 2, basis: 31, amount: 20 },
      { sub: "C-1", period: "2012-01-01..2012-02-01", units: 2, basis: 31, amount: 20 },
      // billing day 15: Dec 30 – Jan 2 all fall in 2011-12-15..2012-01-15 (31 days): 310 × 4 / 31 = 40
      { sub: "C-2", period: "2011-12-15..2012-01-15", units: 4, basis: 31, amount: 40 },
    ]);
  });

  it("uses 29 days for February of a leap year and 28 otherwise", async () => {
    const leap = incidentDoc({
      suspensions: [{ serviceCode: "IMADOKO", start: "2012-02-28T00:00:00+09:00", end: "2012-03-01T00:00:00+09:00" }],
    });
    const plain = incidentDoc({
      suspensions: [{ serviceCode: "IMADOKO", start: "2011-02-27T00:00:00+09:00", end: "2011-03-01T00:00:00+09:00" }],
    });
    expect(summary((await run(leap, csvOf([row({ monthly_fee: "290" })]))).lines)).toEqual([
      { sub: "C-1", period: "2012-02-01..2012-03-01", units: 2, basis: 29, amount: 20 },
    ]);
    expect(summary((await run(plain, csvOf([row({ monthly_fee: "280" })]))).lines)).toEqual([
      { sub: "C-1", period: "2011-02-01..2011-03-01", units: 2, basis: 28, amount: 20 },
    ]);
  });

  it("clamps billing day 31 to February's last day and back to 31 in March", async () => {
    // Periods 2011-01-31..02-28 (28 days) and 2011-02-28..03-31 (31 days)
    const incident = incidentDoc({
      timeZone: "UTC",
      suspensions: [{ serviceCode: "IMADOKO", start: "2011-02-27T00:00:00Z", end: "2011-03-02T00:00:00Z" }],
    });
    const { lines } = await run(incident, csvOf([row({ monthly_fee: "3100", billing_day: "31" })]));
    expect(summary(lines)).toEqual([
      { sub: "C-1", period: "2011-01-31..2011-02-28", units: 1, basis: 28, amount: 110 }, // floor(3100/28 = 110.7)
      { sub: "C-1", period: "2011-02-28..2011-03-31", units: 2, basis: 31, amount: 200 },
    ]);
  });

  it("clamps billing days 29 and 30 across February, leap year or not", async () => {
    const leap = incidentDoc({
      timeZone: "UTC",
      suspensions: [{ serviceCode: "IMADOKO", start: "2012-02-28T00:00:00Z", end: "2012-03-01T00:00:00Z" }],
    });
    expect(summary((await run(leap, csvOf([row({ monthly_fee: "300", billing_day: "30" })]))).lines)).toEqual([
      { sub: "C-1", period: "2012-01-30..2012-02-29", units: 1, basis: 30, amount: 10 },
      { sub: "C-1", period: "2012-02-29..2012-03-30", units: 1, basis: 30, amount: 10 },
    ]);
    const plain = incidentDoc({
      timeZone: "UTC",
      suspensions: [{ serviceCode: "IMADOKO", start: "2011-02-27T00:00:00Z", end: "2011-03-01T00:00:00Z" }],
    });
    expect(summary((await run(plain, csvOf([row({ monthly_fee: "290", billing_day: "29" })]))).lines)).toEqual([
      { sub: "C-1", period: "2011-01-29..2011-02-28", units: 1, basis: 30, amount: 9 }, // floor(290/30 = 9.67)
      { sub: "C-1", period: "2011-02-28..2011-03-29", units: 1, basis: 29, amount: 10 },
    ]);
  });

  it("counts only the active part for a subscription that starts or ends inside the window", async () => {
    const { lines } = await run(
      incidentDoc(),
      csvOf([
        row({ active_from: "2011-12-21T12:00:00+09:00" }, 1), // Dec 21 12:00 – Dec 22 14:00: days 21, 22
        row({ active_to: "2011-12-21" }, 2), // Dec 20 23:30 – Dec 21 00:00 JST: day 20 only
        row({ active_from: "2011-12-22T14:00:00+09:00" }, 3), // starts as the window ends: nothing
      ]),
    );
    expect(summary(lines)).toEqual([
      { sub: "C-1", period: "2011-12-01..2012-01-01", units: 2, basis: 31, amount: 13 },
      { sub: "C-2", period: "2011-12-01..2012-01-01", units: 1, basis: 31, amount: 6 },
    ]);
  });

  it("takes a date-only active_to as local midnight in the row's own zone", async () => {
    // In UTC, 2011-12-21 starts at 09:00 JST: Dec 20 23:30 JST – Dec 21 09:00 JST is Dec 20 14:30 – Dec 21 00:00 UTC
    const { lines } = await run(incidentDoc(), csvOf([row({ active_to: "2011-12-21", time_zone: "UTC" })]));
    expect(summary(lines)).toEqual([{ sub: "C-1", period: "2011-12-01..2012-01-01", units: 1, basis: 31, amount: 6 }]);
  });

  it("caps units at the 30-day basis in a 31-day month", async () => {
    const incident = incidentDoc({
      policy: { dayBasis: 30 },
      suspensions: [{ serviceCode: "IMADOKO", start: "2011-12-01T00:00:00+09:00", end: "2012-01-01T00:00:00+09:00" }],
    });
    expect(summary((await run(incident, csvOf([row()]))).lines)).toEqual([
      { sub: "C-1", period: "2011-12-01..2012-01-01", units: 30, basis: 30, amount: 210 },
    ]);
  });

  it("writes a line with amount 0 for a zero fee", async () => {
    const { lines } = await run(incidentDoc(), csvOf([row({ monthly_fee: "0" })]));
    expect(summary(lines)).toEqual([{ sub: "C-1", period: "2011-12-01..2012-01-01", units: 3, basis: 31, amount: 0 }]);
  });
});

describe("rounding", () => {
  // dayBasis 30, one day: fee/30. 45/30 = 1.5, 75/30 = 2.5, 15/30 = 0.5, 44/30 = 1.47
  const oneDay = (rounding: string) =>
    incidentDoc({
      policy: { dayBasis: 30, rounding: rounding as "floor" },
      suspensions: [{ serviceCode: "IMADOKO", start: "2011-12-21T10:00:00+09:00", end: "2011-12-21T11:00:00+09:00" }],
    });
  const fees = ["45", "75", "15", "44", "46"];
  const amounts = async (rounding: string) =>
    summary((await run(oneDay(rounding), csvOf(fees.map((f, i) => row({ monthly_fee: f }, i))))).lines).map(
      (l) => l.amount,
    );

  it.each([
    ["floor", [1, 2, 0, 1, 1]],
    ["ceil", [2, 3, 1, 2, 2]],
    ["half-up", [2, 3, 1, 1, 2]],
    ["half-even", [2, 2, 0, 1, 2]],
  ])("%s rounds 1.5, 2.5, 0.5, 1.47, 1.53 to %j", async (mode, expected) => {
    expect(await amounts(mode)).toEqual(expected);
  });

  it("keeps a fee far beyond 2^53 exact", async () => {
    const fee = "123456789012345678901234567890";
    const { lines } = await run(incidentDoc(), csvOf([row({ monthly_fee: fee })]));
    expect(lines[0]?.amount).toBe((BigInt(fee) * 3n) / 31n);
  });
});

describe("window union", () => {
  it("merges overlapping, contained, touching and out-of-order windows before counting", async () => {
    const incident = incidentDoc({
      policy: { rule: "exact" },
      suspensions: [
        { serviceCode: "IMADOKO", start: "2011-12-21T10:00:00+09:00", end: "2011-12-21T12:00:00+09:00" },
        { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-21T11:00:00+09:00" },
        { serviceCode: "IMADOKO", start: "2011-12-21T10:30:00+09:00", end: "2011-12-21T10:45:00+09:00" },
        { serviceCode: "IMADOKO", start: "2011-12-21T12:00:00+09:00", end: "2011-12-22T14:00:00+09:00" },
      ],
    });
    const { lines } = await run(incident, csvOf([row({ monthly_fee: "2678400" })]));
    // union = Dec 20 23:30 – Dec 22 14:00 = 38.5 h = 138,600 s of December's 2,678,400 s: amount = 138,600
    expect(summary(lines)).toEqual([
      { sub: "C-1", period: "2011-12-01..2012-01-01", units: 138_600, basis: 2_678_400, amount: 138_600 },
    ]);
  });
});

describe("full-24h", () => {
  const kddi = incidentDoc({
    policy: { rule: "full-24h", dayBasis: 30 },
    suspensions: [{ serviceCode: "AU", start: "2022-07-02T01:35:00+09:00", end: "2022-07-04T15:00:00+09:00" }],
  });

  it("refunds KDDI 2022 (61 h 25 min) as 2 whole blocks: 2/30 of the monthly fee", async () => {
    const { lines } = await run(kddi, csvOf([row({ service_code: "AU", monthly_fee: "1650" })]));
    expect(summary(lines)).toEqual([
      { sub: "C-1", period: "2022-07-01..2022-08-01", units: 2, basis: 30, amount: 110 },
    ]);
  });

  it("gives no refund line for less than 24 hours in a row, but still the goodwill credit", async () => {
    const incident = incidentDoc({
      policy: { rule: "full-24h" },
      goodwill: { amount: 200, currency: "JPY" },
      suspensions: [{ serviceCode: "IMADOKO", start: "2011-12-21T00:00:00+09:00", end: "2011-12-21T23:59:59+09:00" }],
    });
    const { lines } = await run(incident, csvOf([row()]));
    expect(lines).toEqual([
      {
        subscriptionId: null,
        subscriberId: "S-1",
        serviceCode: null,
        periodStart: null,
        periodEnd: null,
        unit: "goodwill",
        units: 1,
        basis: 1,
        amount: 200n,
        currency: "JPY",
      },
    ]);
  });

  it("puts each block in the period of its start's local date", async () => {
    // 2011-12-31 12:00 → 2012-01-02 13:00 JST: blocks start Dec 31 12:00 (December) and Jan 1 12:00 (January)
    const incident = incidentDoc({
      policy: { rule: "full-24h" },
      suspensions: [{ serviceCode: "IMADOKO", start: "2011-12-31T12:00:00+09:00", end: "2012-01-02T13:00:00+09:00" }],
    });
    expect(summary((await run(incident, csvOf([row({ monthly_fee: "310" })]))).lines)).toEqual([
      { sub: "C-1", period: "2011-12-01..2012-01-01", units: 1, basis: 31, amount: 10 },
      { sub: "C-1", period: "2012-01-01..2012-02-01", units: 1, basis: 31, amount: 10 },
    ]);
  });

  it("can lower a refund when an added window joins two pieces: blocks re-anchor at the merged start", async () => {
    // Before: A = Jan 30 12:00 – Jan 31 12:00 (1 block, January, 31 days), B = Feb 1 – Feb 2 (1 block, February, 28)
    // After adding C = Jan 31 12:00 – Feb 1 00:00: one piece of 59.5 h, blocks at Jan 30 12:00 and Jan 31 12:00
    const windows = [
      { serviceCode: "IMADOKO", start: "2011-01-30T12:00:00Z", end: "2011-01-31T12:00:00Z" },
      { serviceCode: "IMADOKO", start: "2011-02-01T00:00:00Z", end: "2011-02-02T00:00:00Z" },
    ];
    const before = incidentDoc({ timeZone: "UTC", policy: { rule: "full-24h" }, suspensions: windows });
    const after = incidentDoc({
      timeZone: "UTC",
      policy: { rule: "full-24h" },
      suspensions: [...windows, { serviceCode: "IMADOKO", start: "2011-01-31T12:00:00Z", end: "2011-02-01T00:00:00Z" }],
    });
    const csv = csvOf([row({ monthly_fee: "3100" })]);
    expect(summary((await run(before, csv)).lines)).toEqual([
      { sub: "C-1", period: "2011-01-01..2011-02-01", units: 1, basis: 31, amount: 100 },
      { sub: "C-1", period: "2011-02-01..2011-03-01", units: 1, basis: 28, amount: 110 },
    ]);
    expect(summary((await run(after, csv)).lines)).toEqual([
      { sub: "C-1", period: "2011-01-01..2011-02-01", units: 2, basis: 31, amount: 200 },
    ]);
  });
});

describe("exact", () => {
  it("counts a 23-hour DST day in a March of 2,674,800 seconds (America/New_York 2021)", async () => {
    const incident = incidentDoc({
      timeZone: "America/New_York",
      policy: { rule: "exact" },
      suspensions: [{ serviceCode: "IMADOKO", start: "2021-03-14T00:00:00-05:00", end: "2021-03-15T00:00:00-04:00" }],
    });
    // March 2021 local: 31 × 86,400 − 3,600 = 2,674,800 s; the 14th lasts 82,800 s: 743 × 82,800 / 2,674,800 = 23
    expect(summary((await run(incident, csvOf([row({ monthly_fee: "743" })]))).lines)).toEqual([
      { sub: "C-1", period: "2021-03-01..2021-04-01", units: 82_800, basis: 2_674_800, amount: 23 },
    ]);
  });

  it("counts a 25-hour DST day in a November of 2,595,600 seconds (America/New_York 2021)", async () => {
    const incident = incidentDoc({
      timeZone: "America/New_York",
      policy: { rule: "exact" },
      suspensions: [{ serviceCode: "IMADOKO", start: "2021-11-07T00:00:00-04:00", end: "2021-11-08T00:00:00-05:00" }],
    });
    // November 2021 local: 30 × 86,400 + 3,600 = 2,595,600 s; the 7th lasts 90,000 s: 721 × 90,000 / 2,595,600 = 25
    expect(summary((await run(incident, csvOf([row({ monthly_fee: "721" })]))).lines)).toEqual([
      { sub: "C-1", period: "2021-11-01..2021-12-01", units: 90_000, basis: 2_595_600, amount: 25 },
    ]);
  });

  it("uses 2,592,000 seconds as the 30-day basis", async () => {
    const incident = incidentDoc({ policy: { rule: "exact", dayBasis: 30, rounding: "half-up" } });
    // 38.5 h = 138,600 s: 210 × 138,600 / 2,592,000 = 11.23 → 11
    expect(summary((await run(incident, csvOf([row()]))).lines)).toEqual([
      { sub: "C-1", period: "2011-12-01..2012-01-01", units: 138_600, basis: 2_592_000, amount: 11 },
    ]);
  });
});

describe("goodwill", () => {
  const withGoodwill = incidentDoc({
    goodwill: { amount: 200, currency: "JPY" },
    suspensions: [
      { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" },
      { serviceCode: "DRIVENET", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" },
    ],
  });

  it("credits each suspended subscriber once, in the goodwill currency, whatever their services and currencies", async () => {
    const { lines, counts } = await run(
      withGoodwill,
      csvOf([
        row({ subscriber_id: "S-A" }, 1),
        row({ subscriber_id: "S-A", service_code: "DRIVENET", monthly_fee: "315", currency: "USD" }, 2),
        row({ subscriber_id: "S-B", active_to: "2011-12-01" }, 3), // ended before the window: no E, no goodwill
        row({ subscriber_id: "S-C", service_code: "OTHER" }, 4), // service not in the incident: skipped
      ]),
    );
    const goodwill = lines.filter((l) => l.unit === "goodwill");
    expect(goodwill.map((l) => [l.subscriberId, l.amount, l.currency])).toEqual([["S-A", 200n, "JPY"]]);
    expect(counts).toMatchObject({ rows: 4, computed: 3, skipped: 1, rejected: 0, lines: 3, goodwillLines: 1 });
  });

  it("writes no goodwill line when the incident grants none", async () => {
    const { lines } = await run(incidentDoc(), csvOf([row()]));
    expect(lines.filter((l) => l.unit === "goodwill")).toEqual([]);
  });
});

describe("a date a zone skips", () => {
  it("never counts Pacific/Apia's 2011-12-30 (it lasted no time) under calendar-day, but keeps it in the period's days", async () => {
    // Apia jumped from 2011-12-29 24:00 (−10:00) to 2011-12-31 00:00 (+14:00). Down Dec 29 12:00 – Dec 31 12:00 local:
    // days 29 and 31 count; the period 2011-12-01..2012-01-01 still has 31 dates.
    const incident = incidentDoc({
      timeZone: "Pacific/Apia",
      suspensions: [{ serviceCode: "IMADOKO", start: "2011-12-29T12:00:00-10:00", end: "2011-12-31T12:00:00+14:00" }],
    });
    expect(summary((await run(incident, csvOf([row({ monthly_fee: "310" })]))).lines)).toEqual([
      { sub: "C-1", period: "2011-12-01..2012-01-01", units: 2, basis: 31, amount: 20 },
    ]);
  });
});
