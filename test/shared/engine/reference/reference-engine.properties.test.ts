import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RefundLine } from "../../../../shared/engine/refund-line";
import { csvOf, incidentDoc, type Row, row, run } from "../../../helpers/factories";

// Random incidents around a few months of 2021–2022 (a DST change in New York and Sydney included).
const BASE = Date.UTC(2021, 9, 1) / 1000; // 2021-10-01
const SPAN = 200 * 86_400;
const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString().replace(".000Z", "Z");
const ZONES = ["Asia/Tokyo", "UTC", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Europe/London"];

const instantArb = fc.integer({ min: BASE, max: BASE + SPAN });
const windowArb = fc
  .tuple(instantArb, fc.integer({ min: 1, max: 20 * 86_400 }), fc.constantFrom("IMADOKO", "DRIVENET"))
  .map(([start, length, serviceCode]) => ({ serviceCode, start, end: start + length }));
const policyArb = fc.record({
  rule: fc.constantFrom("calendar-day", "full-24h", "exact"),
  dayBasis: fc.constantFrom("actual", 30),
  rounding: fc.constantFrom("floor", "ceil", "half-up", "half-even"),
});
const rowArb = fc.record({
  service_code: fc.constantFrom("IMADOKO", "DRIVENET", "OTHER"),
  monthly_fee: fc.oneof(fc.constantFrom("0", "1", "210", "315"), fc.bigInt({ min: 0n, max: 10n ** 12n }).map(String)),
  active_from: fc.oneof(
    fc.constant("2020-01-01"),
    instantArb.map(iso),
    fc.integer({ min: 0, max: 199 }).map((d) => iso(BASE + d * 86_400).slice(0, 10)),
  ),
  active_to: fc.oneof(
    fc.constant(""),
    instantArb.map((t) => iso(t + SPAN)),
  ),
  time_zone: fc.constantFrom("", ...ZONES),
  billing_day: fc.constantFrom("", "1", "15", "28", "29", "30", "31"),
  subscriber_id: fc.constantFrom("S-1", "S-2", "S-3", "S-4"),
});

type Window = { serviceCode: string; start: number; end: number };
const asDoc = (policy: object, windows: Window[], zone = "Asia/Tokyo") =>
  incidentDoc({
    timeZone: zone,
    policy: policy as never,
    goodwill: { amount: 100, currency: "JPY" },
    suspensions: windows.map((w) => ({ serviceCode: w.serviceCode, start: iso(w.start), end: iso(w.end) })),
  });
const numbered = (rows: Row[]) => rows.map((r, i) => ({ ...r, subscription_id: `C-${i}` }));
const key = (l: RefundLine) =>
  `${l.subscriptionId}|${l.subscriberId}|${l.periodStart}|${l.units}|${l.basis}|${l.amount}|${l.unit}`;
const sorted = (lines: RefundLine[]) => lines.map(key).sort();
const refundOf = (lines: RefundLine[], id: string) =>
  lines.filter((l) => l.subscriptionId === id).reduce((sum, l) => sum + l.amount, 0n);

const runs = { numRuns: 60 };

describe("engine invariants (property-based)", () => {
  it("keeps every line within 0 ≤ amount ≤ monthly fee and units ≤ basis", async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(windowArb, { minLength: 1, maxLength: 4 }),
        fc.array(rowArb, { minLength: 1, maxLength: 8 }),
        async (policy, windows, rows) => {
          const r = numbered(rows.map((x) => row(x)));
          const { lines, rejects } = await run(asDoc(policy, windows), csvOf(r));
          expect(rejects).toEqual([]);
          const fee = new Map(r.map((x) => [x.subscription_id, BigInt(x.monthly_fee as string)]));
          for (const l of lines.filter((x) => x.unit !== "goodwill")) {
            expect(l.units).toBeGreaterThan(0);
            expect(l.units).toBeLessThanOrEqual(l.basis);
            expect(l.amount >= 0n && l.amount <= (fee.get(l.subscriptionId as string) as bigint)).toBe(true);
          }
        },
      ),
      runs,
    );
  });

  it("changes nothing when a window is split into two touching windows", async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        windowArb,
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.array(rowArb, { minLength: 1, maxLength: 6 }),
        async (policy, w, at, rows) => {
          const cut = w.start + Math.max(1, Math.floor((w.end - w.start) * at));
          fc.pre(cut < w.end);
          const csv = csvOf(numbered(rows.map((x) => row(x))));
          const whole = await run(asDoc(policy, [w]), csv);
          const split = await run(
            asDoc(policy, [
              { ...w, end: cut },
              { ...w, start: cut },
            ]),
            csv,
          );
          expect(sorted(split.lines)).toEqual(sorted(whole.lines));
        },
      ),
      runs,
    );
  });

  it("never lowers a refund when windows are added, under calendar-day and exact", async () => {
    const monotone = policyArb.filter((p) => p.rule !== "full-24h");
    await fc.assert(
      fc.asyncProperty(
        monotone,
        fc.array(windowArb, { minLength: 1, maxLength: 3 }),
        fc.array(windowArb, { minLength: 1, maxLength: 3 }),
        fc.array(rowArb, { minLength: 1, maxLength: 6 }),
        async (policy, windows, more, rows) => {
          const r = numbered(rows.map((x) => row(x)));
          const before = await run(asDoc(policy, windows), csvOf(r));
          const after = await run(asDoc(policy, [...windows, ...more]), csvOf(r));
          for (const x of r) {
            const id = x.subscription_id as string;
            const periodsBefore = before.lines.filter((l) => l.subscriptionId === id);
            for (const l of periodsBefore) {
              const same = after.lines.find((a) => a.subscriptionId === id && a.periodStart === l.periodStart);
              expect(same && same.amount >= l.amount).toBe(true);
            }
            expect(refundOf(after.lines, id) >= refundOf(before.lines, id)).toBe(true);
          }
        },
      ),
      runs,
    );
  });

  it("refunds exactly the monthly fee for a whole suspended period under exact with the actual basis", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ZONES),
        fc.constantFrom(1, 15, 29, 30, 31),
        fc.integer({ min: 2021, max: 2024 }),
        fc.integer({ min: 1, max: 12 }),
        fc.bigInt({ min: 0n, max: 10n ** 9n }),
        fc.constantFrom("floor", "ceil", "half-up", "half-even"),
        async (zone, billingDay, year, month, fee, rounding) => {
          // A window from well before to well after the period: E covers the period whole.
          const start = `${year}-${String(month).padStart(2, "0")}-01T00:00:00Z`;
          const incident = incidentDoc({
            timeZone: zone,
            policy: { rule: "exact", dayBasis: "actual", rounding: rounding as "floor" },
            suspensions: [
              {
                serviceCode: "IMADOKO",
                start: iso(Date.parse(start) / 1000 - 40 * 86_400),
                end: iso(Date.parse(start) / 1000 + 40 * 86_400),
              },
            ],
          });
          const { lines } = await run(
            incident,
            csvOf([row({ monthly_fee: String(fee), billing_day: String(billingDay) })]),
          );
          const whole = lines.filter((l) => l.unit === "second" && l.units === l.basis);
          expect(whole.length).toBeGreaterThan(0);
          for (const l of whole) expect(l.amount).toBe(fee);
        },
      ),
      runs,
    );
  });

  it("gives the same lines whatever the order of rows and of windows", async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(windowArb, { minLength: 1, maxLength: 4 }),
        fc.array(rowArb, { minLength: 1, maxLength: 8 }),
        fc.integer(),
        async (policy, windows, rows, seed) => {
          const r = numbered(rows.map((x) => row(x)));
          const shuffle = <T>(xs: T[]) =>
            xs
              .map((x, i) => ({ x, k: (i * 7919 + seed) % 104_729 }))
              .sort((a, b) => a.k - b.k)
              .map((e) => e.x);
          const a = await run(asDoc(policy, windows), csvOf(r));
          const b = await run(asDoc(policy, [...windows].reverse()), csvOf(shuffle(r)));
          expect(sorted(b.lines)).toEqual(sorted(a.lines));
        },
      ),
      runs,
    );
  });
});
