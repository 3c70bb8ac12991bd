import { describe, expect, it } from "vitest";
import { UnusableSnapshotError } from "../../../../shared/engine/snapshot-header";
import { parseIncident } from "../../../../shared/input/incident";
import { SUBSCRIPTION_COLUMNS } from "../../../../shared/input/subscription-row";
import {
  csvWithColumns,
  incidentDoc,
  KDDI_VOICE_WINDOWS,
  row,
  run,
  runFast,
  runReference,
  SPMODE_WINDOW,
  summary,
} from "../../../helpers/factories";

// Contract v2: "Scope: who is refunded, who is credited". Every amount here is worked by hand in the comments.
const goodwill = { amount: 200, currency: "JPY" };
const COLUMNS = ["plan", ...SUBSCRIPTION_COLUMNS, "victims"];
const subscriber = (lines: { unit: string; subscriberId: string }[]) =>
  lines
    .filter((l) => l.unit === "goodwill")
    .map((l) => l.subscriberId)
    .sort();

describe("suspension scope: where on windows", () => {
  // July 2022 (31 days), VOICE: W0 (voice-only plans) Jul 2 01:35 → Jul 4 15:00 JST; W1 (everyone) Jul 2 01:35 → 12:00.
  const incident = incidentDoc({ goodwill, suspensions: KDDI_VOICE_WINDOWS as never });
  const voice = (plan: string, n: number) => ({
    ...row({ service_code: "VOICE", monthly_fee: "3100", active_from: "2022-01-01" }, n),
    plan,
  });

  it("refunds a row matching both windows their union, and a row matching one only that one (calendar-day)", async () => {
    // Prepare: C-1 matches W0 and W1 (union: Jul 2, 3, 4); C-2…C-4 match only W1 (Jul 2): the cell is compared as
    // written, so "Voice-only" and " voice-only" (quoted, a leading space) are other plans.
    const csv = csvWithColumns(COLUMNS, [
      voice("voice-only", 1),
      voice("data", 2),
      voice("Voice-only", 3),
      voice(" voice-only", 4),
    ]);
    // Act
    const { lines, counts } = await run(incident, csv);
    // Assess: 3100 × 3 / 31 = 300; 3100 × 1 / 31 = 100; every row suspended, so four goodwill lines.
    expect(summary(lines)).toEqual([
      { sub: "C-1", period: "2022-07-01..2022-08-01", units: 3, basis: 31, amount: 300 },
      { sub: "C-2", period: "2022-07-01..2022-08-01", units: 1, basis: 31, amount: 100 },
      { sub: "C-3", period: "2022-07-01..2022-08-01", units: 1, basis: 31, amount: 100 },
      { sub: "C-4", period: "2022-07-01..2022-08-01", units: 1, basis: 31, amount: 100 },
    ]);
    expect(subscriber(lines)).toEqual(["S-1", "S-2", "S-3", "S-4"]);
    expect(counts).toMatchObject({ rows: 4, computed: 4, skipped: 0, rejected: 0, lines: 8, goodwillLines: 4 });
  });

  it("merges only the windows a row matches, so full-24h blocks re-anchor at its own pieces", async () => {
    // Prepare: W0 (voice-only) Jul 2 00:00 → Jul 3 12:00 (36 h); W1 (everyone) Jul 3 12:00 → Jul 4 12:00 (24 h).
    const fullDay = incidentDoc({
      policy: { rule: "full-24h" },
      suspensions: [
        {
          serviceCode: "VOICE",
          start: "2022-07-02T00:00:00+09:00",
          end: "2022-07-03T12:00:00+09:00",
          where: { plan: ["voice-only"] },
        },
        { serviceCode: "VOICE", start: "2022-07-03T12:00:00+09:00", end: "2022-07-04T12:00:00+09:00" },
      ] as never,
    });
    // Act
    const { lines } = await run(fullDay, csvWithColumns(COLUMNS, [voice("voice-only", 1), voice("data", 2)]));
    // Assess: C-1's windows touch: one piece of 60 h → 2 blocks → 3100 × 2 / 31 = 200. C-2 has W1 alone: 24 h →
    // 1 block (from Jul 3 12:00, not cut by W0's 36 h) → 100.
    expect(summary(lines)).toEqual([
      { sub: "C-1", period: "2022-07-01..2022-08-01", units: 2, basis: 31, amount: 200 },
      { sub: "C-2", period: "2022-07-01..2022-08-01", units: 1, basis: 31, amount: 100 },
    ]);
  });

  it("gives a row matching none of its service's windows no line, and counts it computed", async () => {
    const only = incidentDoc({
      goodwill,
      suspensions: [
        {
          serviceCode: "VOICE",
          start: "2022-07-02T01:35:00+09:00",
          end: "2022-07-04T15:00:00+09:00",
          where: { plan: ["voice-only"] },
        },
      ] as never,
    });
    const { lines, counts } = await run(only, csvWithColumns(COLUMNS, [voice("data", 1)]));
    expect(lines).toEqual([]);
    expect(counts).toMatchObject({ rows: 1, computed: 1, skipped: 0, rejected: 0, lines: 0 });
  });
});

describe("goodwill scope", () => {
  // IMADOKO down Dec 20 and Dec 25 2011 (JST, whole days): the span is [Dec 20 00:00, Dec 26 00:00).
  const windows = [
    { serviceCode: "IMADOKO", start: "2011-12-20T00:00:00+09:00", end: "2011-12-21T00:00:00+09:00" },
    { serviceCode: "IMADOKO", start: "2011-12-25T00:00:00+09:00", end: "2011-12-26T00:00:00+09:00" },
  ];
  const rows = [
    row({ service_code: "MAIL" }, 1), // a service no window names, active all along
    row({ active_from: "2011-12-22", active_to: "2011-12-24" }, 2), // active only in the gap
    row({ active_from: "2011-12-26" }, 3), // starts where the span ends
    row({ service_code: "MAIL", active_to: "2011-12-20" }, 4), // ends where the span starts
    row({ subscriber_id: "S-1", monthly_fee: "310" }, 5), // suspended Dec 20 and 25
    row({ service_code: "MAIL", currency: "yen" }, 6), // rejected
  ];
  const csv = csvWithColumns(COLUMNS, rows);

  it('"active" credits subscribers active inside the span: an unnamed service, a row in the gap between windows', async () => {
    // Act
    const { lines, counts, rejects } = await run(
      incidentDoc({ goodwill: { ...goodwill, scope: "active" }, suspensions: windows } as never),
      csv,
    );
    // Assess: C-5 owes 310 × 2 / 31 = 20. S-1 (by C-1, a MAIL row) and S-2 (by a row active only Dec 22–24) are
    // credited once each; S-3 and S-4 touch the span for no length; S-6's only row is rejected.
    expect(summary(lines)).toEqual([{ sub: "C-5", period: "2011-12-01..2012-01-01", units: 2, basis: 31, amount: 20 }]);
    expect(subscriber(lines)).toEqual(["S-1", "S-2"]);
    expect(rejects.map((r) => r.line)).toEqual([7]);
    // Rows of a service no window names stay "skipped" (no refund line), even when they credit their subscriber.
    expect(counts).toMatchObject({ rows: 6, computed: 3, skipped: 2, rejected: 1, lines: 3, goodwillLines: 2 });
  });

  it('"refunded" (the default, as in v1) credits only the subscribers with a suspended row', async () => {
    const { lines } = await run(incidentDoc({ goodwill, suspensions: windows }), csv);
    expect(subscriber(lines)).toEqual(["S-1"]);
  });

  it("goodwill.where lets only matching rows qualify, under either scope", async () => {
    // Prepare: the victims flag: S-1 yes on its MAIL row only, S-2 no, S-5's IMADOKO row yes.
    const flagged = csvWithColumns(COLUMNS, [
      { ...row({ service_code: "MAIL" }, 1), victims: "yes" },
      { ...row({}, 2), victims: "no" },
      { ...row({}, 3), victims: "yes" },
    ]);
    const where = { victims: ["yes"] };
    // Act
    const refunded = await run(incidentDoc({ goodwill: { ...goodwill, where } } as never), flagged);
    const active = await run(incidentDoc({ goodwill: { ...goodwill, scope: "active", where } } as never), flagged);
    // Assess: refunded: S-3 (suspended, flagged); S-2 is suspended but not flagged, S-1's flagged row is MAIL.
    expect(subscriber(refunded.lines)).toEqual(["S-3"]);
    expect(summary(refunded.lines)).toHaveLength(2);
    // active: S-1 and S-3 (flagged, active during the incident); never S-2.
    expect(subscriber(active.lines)).toEqual(["S-1", "S-3"]);
  });
});

describe("where columns checked against the header", () => {
  const scoped = incidentDoc({
    suspensions: [{ ...SPMODE_WINDOW, where: { plan: ["a"] } }] as never,
  });

  async function refusal(incidentDocument: unknown, csv: string): Promise<string[]> {
    const incident = parseIncident(incidentDocument);
    const messages: string[] = [];
    for (const engine of [() => runReference(incident, csv), () => runFast(incident, csv)]) {
      const error = await engine().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UnusableSnapshotError);
      messages.push((error as Error).message);
    }
    return messages;
  }

  it("refuses a snapshot without a column a where names, naming the path and the column", async () => {
    const messages = await refusal(scoped, csvWithColumns([...SUBSCRIPTION_COLUMNS, "region"], [row()]));
    expect(messages).toEqual([
      'subscriptions: line 1: suspensions[0].where.plan: the header has no column "plan"',
      'subscriptions: line 1: suspensions[0].where.plan: the header has no column "plan"',
    ]);
  });

  it("refuses a header that names a column twice when a where names it, and not otherwise", async () => {
    const twice = `plan,${SUBSCRIPTION_COLUMNS.join(",")},plan\nb,C-1,S-1,IMADOKO,210,JPY,2011-01-01,,,,a\n`;
    const where = { goodwill: { ...goodwill, where: { plan: ["a"] } } };
    expect(await refusal(incidentDoc(where as never), twice)).toEqual([
      'subscriptions: line 1: goodwill.where.plan: the column "plan" appears more than once in the header',
      'subscriptions: line 1: goodwill.where.plan: the column "plan" appears more than once in the header',
    ]);
    // An extra column named twice but by no where is ignored, as in v1.
    const { lines } = await run(incidentDoc(), twice);
    expect(summary(lines)).toEqual([{ sub: "C-1", period: "2011-12-01..2012-01-01", units: 3, basis: 31, amount: 20 }]);
  });
});

describe("the reference engine's memo of matched windows", () => {
  it('keeps services apart whose codes run into each other: "V|0" matching nothing is not "V" matching window 0', async () => {
    // Prepare: V (plan a) Jul 2 → Jul 5 JST, "V|0" (plan a) Jul 2 → Jul 3; C-1 is V on plan a, C-2 "V|0" on plan b.
    const window = (serviceCode: string, end: string) => ({
      serviceCode,
      start: "2022-07-02T00:00:00+09:00",
      end,
      where: { plan: ["a"] },
    });
    const incident = incidentDoc({
      suspensions: [window("V", "2022-07-05T00:00:00+09:00"), window("V|0", "2022-07-03T00:00:00+09:00")] as never,
    });
    const rows = [
      { ...row({ service_code: "V", monthly_fee: "3100", active_from: "2022-01-01" }, 1), plan: "a" },
      { ...row({ service_code: "V|0", monthly_fee: "3100", active_from: "2022-01-01" }, 2), plan: "b" },
    ];

    // Act
    const { lines } = await run(incident, csvWithColumns(COLUMNS, rows));

    // Assess: only C-1, 3 days of July's 31: floor(3100 × 3 / 31) = 300; C-2 matches none of its service's windows.
    expect(summary(lines)).toEqual([
      { sub: "C-1", period: "2022-07-01..2022-08-01", units: 3, basis: 31, amount: 300 },
    ]);
  });
});

describe("the fast engine's memo of where cells", () => {
  it("stays exact past its bound: 6,000 distinct plans, two of them matched, both engines alike", async () => {
    // Prepare: W0 (plan p-1 or p-5999) Jul 2 01:35 → Jul 4 15:00 JST, W1 (everyone) Jul 2 01:35 → 12:00; every row
    // has a plan of its own, so the fast engine meets 6,000 combinations (its memo holds 4,096 at once).
    const incident = incidentDoc({
      suspensions: [
        {
          serviceCode: "VOICE",
          start: "2022-07-02T01:35:00+09:00",
          end: "2022-07-04T15:00:00+09:00",
          where: { plan: ["p-1", "p-5999"] },
        },
        { serviceCode: "VOICE", start: "2022-07-02T01:35:00+09:00", end: "2022-07-02T12:00:00+09:00" },
      ] as never,
    });
    const rows = Array.from({ length: 6_000 }, (_, i) => ({
      ...row({ service_code: "VOICE", monthly_fee: "3100", active_from: "2022-01-01" }, i),
      plan: `p-${i}`,
    }));

    // Act: `run` holds the fast engine's bytes, rejects and counts to the reference engine's.
    const { lines } = await run(incident, csvWithColumns(COLUMNS, rows));

    // Assess: the two matched rows get 3 days (floor(3100 × 3 / 31) = 300), every other row 1 day (100).
    const threeDays = lines.filter((l) => l.units === 3).map((l) => l.subscriptionId);
    expect(threeDays.sort()).toEqual(["C-1", "C-5999"]);
    expect(lines.filter((l) => l.units === 1 && l.amount === 100n)).toHaveLength(5_998);
  });
});
