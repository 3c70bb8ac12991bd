import { describe, expect, it } from "vitest";
import { inPool } from "../../../shared/async/in-pool";

/** A promise and its resolver, to hold a task until the test lets it end. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe("inPool", () => {
  it("runs every item once, never more than `limit` at a time", async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await inPool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, n % 3));
      done.push(n);
      running--;
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it("after a failure starts nothing new, and throws only once the tasks in flight have ended", async () => {
    const slow = gate();
    const started: number[] = [];
    let slowEnded = false;
    const pool = inPool([1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      if (n === 1) {
        await slow.opened;
        slowEnded = true;
      }
      if (n === 2) throw new Error("batch 2 failed");
    });
    let settled = false;
    pool
      .catch(() => {})
      .finally(() => {
        settled = true;
      });
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false); // task 1 is still running: the pool waits for it
    slow.open();
    await expect(pool).rejects.toThrow("batch 2 failed");
    expect(slowEnded).toBe(true);
    expect(started).toEqual([1, 2]); // 3 and 4 never started
  });

  it("throws a failure before a secondary one (a stop on a signal met by another task)", async () => {
    class Stopped extends Error {}
    const second = gate();
    const pool = inPool(
      ["stop", "fail"],
      2,
      async (what) => {
        if (what === "stop") throw new Stopped("interrupted");
        await second.opened;
        throw new Error("UnaccountedRowsError: rows do not add up");
      },
      (e) => e instanceof Stopped,
    );
    second.open();
    await expect(pool).rejects.toThrow("rows do not add up");
    // Only secondary failures: the first of them.
    await expect(
      inPool(
        ["a"],
        1,
        async () => {
          throw new Stopped("interrupted");
        },
        (e) => e instanceof Stopped,
      ),
    ).rejects.toThrow("interrupted");
  });

  it("tells the tasks in flight, through stopped(), that another has failed", async () => {
    const failed = gate();
    const seen: boolean[] = [];
    const pool = inPool([1, 2], 2, async (n, stopped) => {
      if (n === 1) {
        failed.open();
        throw new Error("first failed");
      }
      seen.push(stopped());
      await failed.opened;
      await new Promise((r) => setTimeout(r, 0));
      seen.push(stopped());
    });
    await expect(pool).rejects.toThrow("first failed");
    expect(seen).toEqual([false, true]);
  });

  it("an empty list runs nothing and returns", async () => {
    await expect(inPool([], 4, async () => expect.unreachable())).resolves.toBeUndefined();
  });
});
