/** What the benches share: seconds since a start, the median of runs, and tasks with a number of them in flight. */

/** Seconds since `start` (a `process.hrtime.bigint()`). */
export const secondsSince = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

/** The median of `xs`: the middle value, or the mean of the two middle ones for an even count. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** `task` over `items`, `limit` in flight at once (as the store sends its calls). */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
