/**
 * Runs `task` over `items`, at most `limit` at a time, and returns, or throws, only once every task started has ended:
 * none is left running (writing) behind its caller's back. After a failure no new task starts. What it throws is the
 * first failure that `secondary` does not name, else the first failure: a failure beats, say, a stop on a signal
 * that another task met meanwhile.
 *
 * @param items - what the tasks work on, taken in order
 * @param limit - how many tasks at once
 * @param task - the work on one item; `stopped()` says another task has failed (a long task may stop early)
 * @param secondary - failures to report only when no other task failed otherwise
 */
export async function inPool<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, stopped: () => boolean) => Promise<void>,
  secondary: (error: unknown) => boolean = () => false,
): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const stopped = () => failures.length > 0;
  const worker = async () => {
    while (!stopped() && next < items.length) {
      try {
        await task(items[next++] as T, stopped);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures.find((e) => !secondary(e)) ?? failures[0];
}
