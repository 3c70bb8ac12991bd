/**
 * Half-open intervals `[start, end)` of epoch seconds. A set is kept as sorted, disjoint, non-touching pieces:
 * each piece is a maximal continuous stretch (what `full-24h` counts its blocks in).
 */
export interface Interval {
  start: number;
  end: number;
}

/** The union of intervals given in any order, overlapping, touching or nested: sorted maximal pieces. */
export function unionOf(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.end > i.start).sort((a, b) => a.start - b.start || a.end - b.end);
  const pieces: Interval[] = [];
  for (const { start, end } of sorted) {
    const last = pieces[pieces.length - 1];
    if (last && start <= last.end) {
      if (end > last.end) last.end = end;
    } else {
      pieces.push({ start, end });
    }
  }
  return pieces;
}

/** The pieces of a union that lie inside `[from, to)`, clipped to it. */
export function clipTo(pieces: readonly Interval[], from: number, to: number): Interval[] {
  const out: Interval[] = [];
  for (const p of pieces) {
    const start = Math.max(p.start, from);
    const end = Math.min(p.end, to);
    if (end > start) out.push({ start, end });
  }
  return out;
}

/** Total length of disjoint pieces. */
export function totalLength(pieces: readonly Interval[]): number {
  let sum = 0;
  for (const p of pieces) sum += p.end - p.start;
  return sum;
}
