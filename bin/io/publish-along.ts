/** What one pass over the stream says at its end (`LocalEnvironment.publishPending`): records left failed. */
export interface PublishPass {
  failed: number;
}

/** A publisher that goes on while the run writes; `stop` ends it. */
export interface PublishingAlong {
  /**
   * Ends the passes and resolves, once the pass under way (if any) has ended, with how many records they published.
   * Call it before any other pass over the same stream: two at once would append the same events twice. Safe to call
   * again (the same count).
   */
  stop(): Promise<number>;
}

/** Waits between passes: from the first, doubled after a pass that found nothing, up to the last. */
export const ALONG_WAITS_MS = { first: 250, most: 4_000 } as const;

/**
 * Publishes the stream while a run writes it, as the stream-triggered publish-events Lambda does on AWS, instead of
 * all of it after the run: one pass at a time (`pass`, `LocalEnvironment.publishPending`), never two at once, the next
 * after a wait that grows while passes find nothing (ALONG_WAITS_MS), until `stop`. A pass that leaves failed records,
 * or that throws (DynamoDB Local gone, a full disk), ends the passes quietly: the run's own publish after them
 * publishes what is left, and says the failure if it meets it again, where it would have without them. What is
 * counted is what a pass says it committed, page by page (`counted`), so a pass that throws after some pages still
 * counts them.
 */
export function publishAlong(
  pass: (counted: (records: number) => void) => Promise<PublishPass>,
  waits: { first: number; most: number } = ALONG_WAITS_MS,
  pause: (ms: number) => Promise<void> = unrefPause,
): PublishingAlong {
  let stopped = false;
  let handled = 0;
  let wake: (() => void) | undefined;
  /** The wait before the next pass, ended early by `stop` (one resolver at a time: nothing piles up). */
  const waitFor = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      void pause(ms).then(resolve);
    });
  const loop = (async () => {
    let wait = waits.first;
    while (!stopped) {
      await waitFor(wait);
      wake = undefined;
      if (stopped) break;
      let found = 0;
      let done: PublishPass;
      try {
        done = await pass((records) => {
          found += records;
          handled += records;
        });
      } catch {
        break; // said by the publish after the run, if it meets it again
      }
      if (done.failed > 0) break; // the failed page comes again, whole, to the publish after the run
      wait = found > 0 ? waits.first : Math.min(wait * 2, waits.most);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      wake?.();
      await loop;
      return handled;
    },
  };
}

/** A wait that does not keep the process alive (a stopped publisher leaves its last wait's timer behind). */
function unrefPause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
