import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { divideCeil, divideFloor, divideHalfEven, divideHalfUp, prorate } from "../../../shared/money/rounding";

describe("rounding modes", () => {
  it.each([
    // n/d: floor, ceil, half-up, half-even
    [7n, 2n, 3n, 4n, 4n, 4n], // 3.5: tie, 4 is even
    [5n, 2n, 2n, 3n, 3n, 2n], // 2.5: tie, 2 is even
    [1n, 2n, 0n, 1n, 1n, 0n], // 0.5
    [10n, 4n, 2n, 3n, 3n, 2n], // 2.5
    [7n, 3n, 2n, 3n, 2n, 2n], // 2.33
    [8n, 3n, 2n, 3n, 3n, 3n], // 2.67
    [6n, 3n, 2n, 2n, 2n, 2n], // exact
    [0n, 5n, 0n, 0n, 0n, 0n],
  ])("%i/%i → floor %i, ceil %i, half-up %i, half-even %i", (n, d, floor, ceil, halfUp, halfEven) => {
    expect([divideFloor(n, d), divideCeil(n, d), divideHalfUp(n, d), divideHalfEven(n, d)]).toEqual([
      floor,
      ceil,
      halfUp,
      halfEven,
    ]);
  });

  it("stays within the exact quotient: floor ≤ n/d ≤ ceil, and the half modes at most ½ away (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: 1n, max: 10n ** 12n }), (n, d) => {
        const f = divideFloor(n, d);
        expect(f * d <= n && n < (f + 1n) * d).toBe(true);
        expect(divideCeil(n, d) - f).toBe(n % d === 0n ? 0n : 1n);
        for (const r of [divideHalfUp(n, d), divideHalfEven(n, d)]) {
          const distanceTwice = 2n * (r * d - n);
          expect(-d <= distanceTwice && distanceTwice <= d).toBe(true);
        }
      }),
    );
  });

  it("prorates in BigInt: round(fee × units / basis)", () => {
    expect(prorate(210n, 3, 31, "floor")).toBe(20n);
    expect(prorate(2n ** 80n, 1, 2, "floor")).toBe(2n ** 79n);
    expect(() => prorate(1n, 1, 0, "floor")).toThrow(RangeError);
  });
});
