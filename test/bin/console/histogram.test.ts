import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeltaCounter, MAX_BARS } from "../../../bin/console/histogram";

describe("DeltaCounter", () => {
  it("gives one bar per value when there are few, sorted, per currency", () => {
    const c = new DeltaCounter();
    for (const d of [-100n, 50n, -100n, 0n]) c.add("JPY", d);
    c.add("USD", 1234n);
    expect(c.distributions()).toEqual([
      {
        currency: "JPY",
        buckets: [
          { from: "-100", to: "-100", count: 2 },
          { from: "0", to: "0", count: 1 },
          { from: "50", to: "50", count: 1 },
        ],
      },
      { currency: "USD", buckets: [{ from: "1234", to: "1234", count: 1 }] },
    ]);
  });

  it("shares equal ranges past MAX_BARS values: 0..99 in bars of ceil(100 / 24) = 5 values, 20 bars", () => {
    const c = new DeltaCounter();
    for (let v = 0n; v < 100n; v++) c.add("JPY", v);
    const [jpy] = c.distributions();
    expect(jpy?.buckets).toHaveLength(20);
    expect(jpy?.buckets[0]).toEqual({ from: "0", to: "4", count: 5 });
    expect(jpy?.buckets.at(-1)).toEqual({ from: "95", to: "99", count: 5 });
  });

  it("counts every delta once, in the bar that holds it, never more than MAX_BARS bars", () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n }), { minLength: 1, maxLength: 300 }),
        (deltas) => {
          const c = new DeltaCounter();
          for (const d of deltas) c.add("USD", d);
          const [usd] = c.distributions();
          const buckets = usd?.buckets ?? [];
          expect(buckets.length).toBeLessThanOrEqual(MAX_BARS);
          expect(buckets.reduce((s, b) => s + b.count, 0)).toBe(deltas.length);
          for (const d of deltas) {
            const holding = buckets.filter((b) => BigInt(b.from) <= d && d <= BigInt(b.to));
            expect(holding).toHaveLength(1);
          }
        },
      ),
    );
  });
});
