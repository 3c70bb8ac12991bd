/** One bar of a distribution of deltas: the deltas in `[from, to]` (minor units, exact), and how many. */
export interface Bucket {
  from: string;
  to: string;
  count: number;
}

/** The deltas of one currency, counted per value, as a chart draws them. */
export interface Distribution {
  currency: string;
  buckets: Bucket[];
}

/** At most this many bars: past it, equal ranges of values share a bar. */
export const MAX_BARS = 24;

/**
 * Counts of exact delta values per currency, and the bars they make: one per value when there are at most
 * MAX_BARS values (a rerun moving each line by a day's fee has a handful), else MAX_BARS equal ranges over
 * [least, greatest] (BigInt: exact at any size).
 */
export class DeltaCounter {
  private readonly counts = new Map<string, Map<bigint, number>>();

  add(currency: string, delta: bigint): void {
    const of = this.counts.get(currency) ?? new Map<bigint, number>();
    of.set(delta, (of.get(delta) ?? 0) + 1);
    this.counts.set(currency, of);
  }

  distributions(): Distribution[] {
    return [...this.counts.keys()].sort().map((currency) => ({
      currency,
      buckets: barsOf(this.counts.get(currency) as Map<bigint, number>),
    }));
  }
}

function barsOf(counts: Map<bigint, number>): Bucket[] {
  const values = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (values.length <= MAX_BARS)
    return values.map((v) => ({ from: String(v), to: String(v), count: counts.get(v) as number }));
  const least = values[0] as bigint;
  const greatest = values.at(-1) as bigint;
  // Ceiling division: MAX_BARS ranges of `width` values cover [least, greatest].
  const span = greatest - least + 1n;
  const width = (span + BigInt(MAX_BARS) - 1n) / BigInt(MAX_BARS);
  const bars: Bucket[] = [];
  for (let from = least; from <= greatest; from += width)
    bars.push({
      from: String(from),
      to: String(from + width - 1n > greatest ? greatest : from + width - 1n),
      count: 0,
    });
  for (const [v, count] of counts) (bars[Number((v - least) / width)] as Bucket).count += count;
  return bars;
}
