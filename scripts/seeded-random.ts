/**
 * mulberry32: a small seeded generator for the example and bench data, so every machine writes the same files
 * (never Math.random). Returns numbers in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Picks one of the weighted values with `rnd` (a weight is a share of their sum). */
export function weightedPick(rnd: () => number): <T>(weighted: [T, number][]) => T {
  return <T>(weighted: [T, number][]): T => {
    let r = rnd() * weighted.reduce((s, [, w]) => s + w, 0);
    for (const [v, w] of weighted) {
      r -= w;
      if (r < 0) return v;
    }
    return (weighted[weighted.length - 1] as [T, number])[0];
  };
}

/** A whole number written with at least `width` digits (leading zeros): ids and dates of generated rows. */
export const pad = (n: number, width: number) => String(n).padStart(width, "0");
