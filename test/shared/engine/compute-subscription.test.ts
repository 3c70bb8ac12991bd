import { describe, expect, it } from "vitest";
import { judgeAndCompute, type RowCounts, SubscriptionCalculator } from "../../../shared/engine/compute-subscription";
import { parseIncident } from "../../../shared/input/incident";
import { readHeader, SUBSCRIPTION_COLUMNS, type SubscriptionHeader } from "../../../shared/input/subscription-row";
import { incidentDoc, type Row, row } from "../../helpers/factories";

const header = (readHeader([...SUBSCRIPTION_COLUMNS]) as { header: SubscriptionHeader }).header;
const record = (r: Row) => ({ line: 2, fields: SUBSCRIPTION_COLUMNS.map((c) => r[c] ?? "") });
const judge = (calculator: SubscriptionCalculator, r: Row, counts: RowCounts, duplicate = false) =>
  judgeAndCompute(record(r), header, calculator, () => duplicate, counts);
const zero = (): RowCounts => ({ rows: 0, computed: 0, skipped: 0, rejected: 0 });

describe("judgeAndCompute and SubscriptionCalculator", () => {
  it("computes a valid row of a suspended service: sp-mode, 210 JPY, 3 days → floor(630 / 31) = 20", () => {
    const calculator = new SubscriptionCalculator(parseIncident(incidentDoc()));
    const counts = zero();

    const judged = judge(calculator, row({}, 1), counts);

    expect(judged.kind).toBe("computed");
    expect(judged.kind === "computed" && judged.result).toEqual({
      suspended: true,
      lines: [
        {
          subscriptionId: "C-1",
          subscriberId: "S-1",
          serviceCode: "IMADOKO",
          periodStart: "2011-12-01",
          periodEnd: "2012-01-01",
          unit: "day",
          units: 3,
          basis: 31,
          amount: 20n,
          currency: "JPY",
        },
      ],
    });
    expect(counts).toEqual({ rows: 1, computed: 1, skipped: 0, rejected: 0 });
  });

  it("rounds as the incident says: ceil(210 × 3 / 31 = 20.32) = 21; half-up(210 × 1 / 31 = 6.77) = 7", () => {
    const ceil = new SubscriptionCalculator(parseIncident(incidentDoc({ policy: { rounding: "ceil" } })));
    const halfUp = new SubscriptionCalculator(parseIncident(incidentDoc({ policy: { rounding: "half-up" } })));
    const first = judge(ceil, row({}, 1), zero());
    // active until the 21st (Tokyo midnight): only the 20th, 1 day of 31
    const second = judge(halfUp, row({ active_to: "2011-12-21" }, 2), zero());
    expect(first.kind === "computed" && first.result.lines.map((l) => l.amount)).toEqual([21n]);
    expect(second.kind === "computed" && second.result.lines.map((l) => [l.units, l.amount])).toEqual([[1, 7n]]);
  });

  it("computes a row not active during the window to no line and not suspended (no goodwill under scope refunded)", () => {
    const calculator = new SubscriptionCalculator(parseIncident(incidentDoc()));
    const judged = judge(calculator, row({ active_from: "2012-01-01" }, 1), zero());
    expect(judged.kind === "computed" && judged.result).toEqual({ lines: [], suspended: false });
  });

  it("skips a valid row of a service no window names, and rejects a bad or duplicated row, counting each", () => {
    const calculator = new SubscriptionCalculator(parseIncident(incidentDoc()));
    const counts = zero();

    const other = judge(calculator, row({ service_code: "OTHER" }, 1), counts);
    const bad = judge(calculator, row({ monthly_fee: "007" }, 2), counts);
    const twice = judge(calculator, row({}, 3), counts, true);

    expect([other.kind, bad.kind, twice.kind]).toEqual(["skipped", "rejected", "rejected"]);
    expect(bad.kind === "rejected" && bad.reject.field).toBe("monthly_fee");
    expect(counts).toEqual({ rows: 3, computed: 0, skipped: 1, rejected: 2 });
  });

  it("merges only the windows a row's cells match (contract v2 where): each row its own E", () => {
    const incident = parseIncident(
      incidentDoc({
        suspensions: [
          { serviceCode: "IMADOKO", start: "2011-12-20T00:00:00+09:00", end: "2011-12-21T00:00:00+09:00" },
          {
            serviceCode: "IMADOKO",
            start: "2011-12-24T00:00:00+09:00",
            end: "2011-12-25T00:00:00+09:00",
            where: { plan: ["premium"] },
          },
        ] as never,
      }),
    );
    const calculator = new SubscriptionCalculator(incident);
    const basic = calculator.windowsOf({ serviceCode: "IMADOKO", cells: new Map([["plan", "basic"]]) });
    const premium = calculator.windowsOf({ serviceCode: "IMADOKO", cells: new Map([["plan", "premium"]]) });
    // One day (the 20th) for every row; the 24th too for premium rows only
    expect(basic?.map((w) => (w.end - w.start) / 3600)).toEqual([24]);
    expect(premium?.map((w) => (w.end - w.start) / 3600)).toEqual([24, 24]);
    expect(calculator.windowsOf({ serviceCode: "OTHER", cells: new Map() })).toBeUndefined();
  });
});
