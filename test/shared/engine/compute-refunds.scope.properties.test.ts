import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SUBSCRIPTION_COLUMNS } from "../../../shared/input/subscription-row";
import { csvWithColumns, incidentDoc, run } from "../../helpers/factories";

// Random contract v2 incidents (a where on some windows and on goodwill, either scope) over snapshots with extra
// columns in a shuffled header. `run` checks that the fast engine writes the plain one's bytes, rejects and counts.
const BASE = Date.UTC(2021, 9, 1) / 1000; // 2021-10-01
const SPAN = 120 * 86_400;
const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString().replace(".000Z", "Z");
const PLANS = ["voice-only", "data", "", " data", "a,b", 'say "hi"', "データ"];
const REGIONS = ["okinawa", "kyushu", "tokyo"];

const instantArb = fc.integer({ min: BASE, max: BASE + SPAN });
const whereArb = fc.option(
  fc.oneof(
    fc.record({ plan: fc.subarray(PLANS, { minLength: 1 }) }),
    fc.record({ region: fc.subarray(REGIONS, { minLength: 1 }) }),
    fc.record({ plan: fc.subarray(PLANS, { minLength: 1 }), region: fc.subarray(REGIONS, { minLength: 1 }) }),
  ),
  { nil: undefined },
);
const windowArb = fc.record({
  serviceCode: fc.constantFrom("VOICE", "DATA"),
  start: instantArb,
  length: fc.integer({ min: 1, max: 10 * 86_400 }),
  where: whereArb,
});
const goodwillArb = fc.option(fc.record({ scope: fc.constantFrom(undefined, "refunded", "active"), where: whereArb }), {
  nil: undefined,
});
const rowArb = fc.record({
  service_code: fc.constantFrom("VOICE", "DATA", "OTHER"),
  subscriber_id: fc.constantFrom("S-1", "S-2", "S-3", "S-4", "S-5"),
  monthly_fee: fc.constantFrom("0", "210", "3100", "123457"),
  currency: fc.constantFrom("JPY", "JPY", "JPY", "USD", "yen"),
  from: fc.integer({ min: BASE - 20 * 86_400, max: BASE + SPAN }),
  length: fc.option(fc.integer({ min: 1, max: 60 * 86_400 }), { nil: undefined }),
  time_zone: fc.constantFrom("", "UTC", "America/New_York"),
  billing_day: fc.constantFrom("", "1", "31"),
  plan: fc.constantFrom(...PLANS),
  region: fc.constantFrom(...REGIONS),
});
const policyArb = fc.record({
  rule: fc.constantFrom("calendar-day", "full-24h", "exact"),
  dayBasis: fc.constantFrom("actual", 30),
  rounding: fc.constantFrom("floor", "ceil", "half-up", "half-even"),
});
const columnsArb = fc
  .shuffledSubarray([...SUBSCRIPTION_COLUMNS, "plan", "region", "note"], { minLength: 12, maxLength: 12 })
  .map((c) => c as string[]);

type Where = Record<string, string[]> | undefined;
type Window = { serviceCode: string; start: number; length: number; where: Where };
type Row = typeof rowArb extends fc.Arbitrary<infer T> ? T : never;

const matches = (where: Where, r: Row) =>
  !where || Object.entries(where).every(([k, vs]) => vs.includes(r[k as "plan" | "region"]));
const overlaps = (a: number, b: number, c: number, d: number) => Math.max(a, c) < Math.min(b, d);

function build(policy: object, windows: Window[], goodwill: { scope?: string; where: Where } | undefined) {
  const doc = incidentDoc({
    policy: policy as never,
    suspensions: windows.map((w) => ({
      serviceCode: w.serviceCode,
      start: iso(w.start),
      end: iso(w.start + w.length),
      ...(w.where ? { where: w.where } : {}),
    })) as never,
  }) as Record<string, unknown>;
  if (goodwill) {
    doc.goodwill = {
      amount: 200,
      currency: "JPY",
      ...(goodwill.scope ? { scope: goodwill.scope } : {}),
      ...(goodwill.where ? { where: goodwill.where } : {}),
    };
  }
  return doc;
}

const cellsOf = (rows: Row[]) =>
  rows.map((r, i) => ({
    subscription_id: `C-${i}`,
    subscriber_id: r.subscriber_id,
    service_code: r.service_code,
    monthly_fee: r.monthly_fee,
    currency: r.currency,
    active_from: iso(r.from),
    active_to: r.length === undefined ? "" : iso(r.from + r.length),
    time_zone: r.time_zone,
    billing_day: r.billing_day,
    plan: r.plan,
    region: r.region,
    note: "n",
  }));

const runs = { numRuns: 80 };

describe("contract v2 scope (property-based)", () => {
  it("gives the same bytes from both engines, accounts for every row, and credits exactly whom the contract says", async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(windowArb, { minLength: 1, maxLength: 4 }),
        goodwillArb,
        fc.array(rowArb, { minLength: 1, maxLength: 10 }),
        columnsArb,
        async (policy, windows, goodwill, rows, columns) => {
          const { lines, rejects, counts } = await run(
            build(policy, windows, goodwill),
            csvWithColumns(columns, cellsOf(rows)),
          );
          // rows = computed + skipped + rejected, every record counted once.
          expect(counts.rows).toBe(rows.length);
          expect(counts.computed + counts.skipped + counts.rejected).toBe(counts.rows);
          expect(counts.rejected).toBe(rows.filter((r) => r.currency === "yen").length);
          expect(rejects).toHaveLength(counts.rejected);
          const named = new Set<string>(windows.map((w) => w.serviceCode));
          const valid = rows.filter((r) => r.currency !== "yen");
          expect(counts.skipped).toBe(valid.filter((r) => !named.has(r.service_code)).length);
          // Who is credited, found here the naive way: E is non-empty when a matching window of the row's service
          // overlaps its active range; "active" looks at the hull of all windows.
          const to = (r: Row) => (r.length === undefined ? Number.POSITIVE_INFINITY : r.from + r.length);
          const hullStart = Math.min(...windows.map((w) => w.start));
          const hullEnd = Math.max(...windows.map((w) => w.start + w.length));
          const credited = new Set<string>();
          for (const r of valid) {
            if (!goodwill || !matches(goodwill.where, r)) continue;
            const qualifies =
              goodwill.scope === "active"
                ? overlaps(r.from, to(r), hullStart, hullEnd)
                : windows.some(
                    (w) =>
                      w.serviceCode === r.service_code &&
                      matches(w.where, r) &&
                      overlaps(r.from, to(r), w.start, w.start + w.length),
                  );
            if (qualifies) credited.add(r.subscriber_id);
          }
          const goodwillLines = lines.filter((l) => l.unit === "goodwill").map((l) => l.subscriberId);
          expect(goodwillLines.sort()).toEqual([...credited].sort());
          expect(counts.goodwillLines).toBe(credited.size);
          expect(counts.lines).toBe(lines.length);
          // A refund line only for a row that matches a window of its service.
          for (const l of lines.filter((x) => x.unit !== "goodwill")) {
            const r = rows[Number((l.subscriptionId as string).slice(2))] as Row;
            expect(windows.some((w) => w.serviceCode === r.service_code && matches(w.where, r))).toBe(true);
          }
        },
      ),
      runs,
    );
  });

  it("changes nothing when every window's where lists every plan the snapshot holds (a v1 incident's lines)", async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(windowArb, { minLength: 1, maxLength: 3 }),
        fc.array(rowArb, { minLength: 1, maxLength: 8 }),
        columnsArb,
        async (policy, windows, rows, columns) => {
          const csv = csvWithColumns(columns, cellsOf(rows));
          const plain = windows.map((w) => ({ ...w, where: undefined }));
          const everyone = windows.map((w) => ({ ...w, where: { plan: PLANS } }));
          const v1 = await run(build(policy, plain, { where: undefined }), csv);
          const v2 = await run(build(policy, everyone, { scope: "refunded", where: { region: REGIONS } }), csv);
          expect(v2.lines).toEqual(v1.lines);
          expect(v2.counts).toEqual(v1.counts);
        },
      ),
      { numRuns: 40 },
    );
  });
});
