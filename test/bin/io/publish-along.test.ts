import { describe, expect, it } from "vitest";
import { type PublishPass, publishAlong } from "../../../bin/io/publish-along";

const WAITS = { first: 1, most: 8 } as const;
const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a pass does: commits `handled` records, then ends with `failed` of them left, or commits and throws. */
type Outcome = { handled: number; failed: number } | { handled: number; throws: Error };

/** A stream of pass outcomes, in turn (then nothing found), counting passes and any two at once. */
function passes(results: Outcome[]) {
  let running = 0;
  const seen = { passes: 0, overlapped: false };
  const pass = async (counted: (records: number) => void): Promise<PublishPass> => {
    running++;
    seen.overlapped ||= running > 1;
    seen.passes++;
    await tick(1);
    running--;
    const next = results.shift() ?? { handled: 0, failed: 0 };
    if (next.handled > 0) counted(next.handled);
    if ("throws" in next) throw next.throws;
    return { failed: next.failed };
  };
  return { pass, seen };
}

describe("publishAlong", () => {
  it("publishes pass after pass, one at a time, and stop returns what they published", async () => {
    const { pass, seen } = passes([
      { handled: 500, failed: 0 },
      { handled: 500, failed: 0 },
      { handled: 0, failed: 0 },
      { handled: 34, failed: 0 },
    ]);
    const along = publishAlong(pass, WAITS);
    while (seen.passes < 6) await tick();
    expect(await along.stop()).toBe(1_034);
    expect(seen.overlapped).toBe(false);
  });

  it("runs no pass once stopped, and waits for the pass under way", async () => {
    let ended = false;
    const along = publishAlong(async (counted) => {
      await tick(20);
      counted(7);
      ended = true;
      return { failed: 0 };
    }, WAITS);
    await tick(5); // the first pass is under way
    expect(await along.stop()).toBe(7);
    expect(ended).toBe(true);
    expect(await along.stop()).toBe(7); // again: the same
  });

  it("stops at once when stopped during a wait, without another pass", async () => {
    const { pass, seen } = passes([]);
    const along = publishAlong(pass, { first: 60_000, most: 60_000 });
    const started = Date.now();
    expect(await along.stop()).toBe(0);
    expect(seen.passes).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000); // not the minute's wait
  });

  it("ends its passes quietly at a pass with failed records: the publish after the run meets them again", async () => {
    const { pass, seen } = passes([
      { handled: 3, failed: 2 },
      { handled: 100, failed: 0 },
    ]);
    const along = publishAlong(pass, WAITS);
    await tick(50);
    expect(seen.passes).toBe(1);
    expect(await along.stop()).toBe(3);
  });

  it("ends its passes quietly at a pass that throws (DynamoDB Local gone, a full disk), counting what it committed first", async () => {
    const { pass, seen } = passes([
      { handled: 10, failed: 0 },
      { handled: 4, throws: new Error("ENOSPC: no space left on device") },
    ]);
    const along = publishAlong(pass, WAITS);
    await tick(50);
    expect(seen.passes).toBe(2);
    expect(await along.stop()).toBe(14);
  });

  it("waits longer after each pass that found nothing, up to the most, and from the first again after one that did", async () => {
    const waits: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    const found = [0, 0, 0, 0, 0, 5, 0];
    const along = publishAlong(
      async (counted) => {
        counted(found.shift() ?? 0);
        return { failed: 0 };
      },
      { first: 1, most: 8 },
      (ms) => {
        waits.push(ms);
        return new Promise((resolve) => realSetTimeout(resolve, 0));
      },
    );
    while (waits.length < 9) await tick(1);
    await along.stop();
    expect(waits.slice(0, 9)).toEqual([1, 2, 4, 8, 8, 8, 1, 2, 4]);
  });
});
