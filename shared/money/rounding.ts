/**
 * The four rounding modes of the contract, each a named function over a non-negative rational n/d.
 * Refund amounts are rounded exactly once, here, in BigInt arithmetic: never through a float.
 */
export const ROUNDING_MODES = ["floor", "ceil", "half-up", "half-even"] as const;
export type RoundingMode = (typeof ROUNDING_MODES)[number];

/** Rounds n/d down (n ≥ 0, d > 0). */
export function divideFloor(n: bigint, d: bigint): bigint {
  return n / d;
}

/** Rounds n/d up (n ≥ 0, d > 0). */
export function divideCeil(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d === 0n ? q : q + 1n;
}

/** Rounds n/d to the nearest integer, exact halves away from zero (n ≥ 0, d > 0). */
export function divideHalfUp(n: bigint, d: bigint): bigint {
  const q = n / d;
  return 2n * (n % d) >= d ? q + 1n : q;
}

/** Rounds n/d to the nearest integer, exact halves to the even neighbour (banker's rounding; n ≥ 0, d > 0). */
export function divideHalfEven(n: bigint, d: bigint): bigint {
  const q = n / d;
  const twice = 2n * (n % d);
  if (twice > d) return q + 1n;
  if (twice < d) return q;
  return q % 2n === 0n ? q : q + 1n;
}

const DIVIDERS: Record<RoundingMode, (n: bigint, d: bigint) => bigint> = {
  floor: divideFloor,
  ceil: divideCeil,
  "half-up": divideHalfUp,
  "half-even": divideHalfEven,
};

/**
 * The pro-rated amount `round(fee × units / basis)` in minor units.
 * NOTE: amount = round(monthlyFee × units / basis); the product is formed in BigInt, so a fee of any size stays exact.
 */
export function prorate(monthlyFee: bigint, units: number, basis: number, mode: RoundingMode): bigint {
  if (monthlyFee < 0n || units < 0 || basis <= 0) {
    throw new RangeError(`prorate: fee ${monthlyFee}, units ${units}, basis ${basis} out of range`);
  }
  return DIVIDERS[mode](monthlyFee * BigInt(units), BigInt(basis));
}
