import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addCounts,
  ConcurrentChangeError,
  LEASE_FRESH_MS,
  LockLostError,
  leaseIsFresh,
  RequestMismatchError,
  RunLockedError,
  SHARDS,
  shardOf,
  ZERO_COUNTS,
} from "../../../shared/store/refund-store";

describe("shardOf", () => {
  it("is FNV-1a of the group modulo 64, pinned: a changed hash would strand every stored line in another shard", () => {
    // FNV-1a 32-bit of "" is the offset basis 0x811c9dc5 = 2166136261; 2166136261 mod 64 = 5.
    expect(shardOf("")).toBe(2166136261 % 64);
    expect(shardOf("")).toBe(5);
    // FNV-1a("a") = 0xe40c292c (the reference test vector) = 3826002220; mod 64 = 44.
    expect(shardOf("a")).toBe(0xe40c292c % 64);
    expect(shardOf("spmode-2011-12#S#C-0001")).toBe(shardOf("spmode-2011-12#S#C-0001"));
  });

  it("property: a shard is a whole number in [0, 64)", () => {
    fc.assert(
      fc.property(fc.string(), (group) => {
        const shard = shardOf(group);
        expect(Number.isInteger(shard) && shard >= 0 && shard < SHARDS).toBe(true);
      }),
    );
  });
});

describe("addCounts", () => {
  it("adds two runs' counts field by field, leaving both as they were", () => {
    const a = { ...ZERO_COUNTS, rows: 3, computed: 2, rejected: 1, calculated: 2 };
    const b = { ...ZERO_COUNTS, rows: 4, computed: 4, adjusted: 1, unchanged: 3 };
    expect(addCounts(a, b)).toEqual({
      rows: 7,
      computed: 6,
      skipped: 0,
      rejected: 1,
      calculated: 2,
      adjusted: 1,
      voided: 0,
      unchanged: 3,
    });
    expect(a.rows).toBe(3);
    expect(ZERO_COUNTS.rows).toBe(0);
  });
});

describe("the store's errors", () => {
  it("say what happened and what to do, and carry what a caller needs", () => {
    const locked = new RunLockedError("inc", "run-a", Date.parse("2011-12-24T09:15:00.000Z"));
    expect(locked.message).toContain("incident inc is being run by run-a (lock held until 2011-12-24T09:15:00.000Z)");
    expect(locked.message).toContain("`hiwari unlock`");
    expect([locked.name, locked.holder]).toEqual(["RunLockedError", "run-a"]);
    expect(new LockLostError("inc", "run-a").message).toContain("run run-a no longer holds the lock of incident inc");
    expect(new RequestMismatchError("run-a", "snapshot").name).toBe("RequestMismatchError");
    // A line id names a subscriber: kept on the error, out of its message (which is logged)
    const changed = new ConcurrentChangeError("inc#S#C-0001#2011-12-01");
    expect(changed.lineId).toBe("inc#S#C-0001#2011-12-01");
    expect(changed.message).not.toContain("C-0001");
  });
});

describe("leaseIsFresh: a lease renewLock may leave as it is", () => {
  const now = 1_000_000_000;
  const lease = 15 * 60 * 1000;

  it("is one that runs at least the lease asked, at most 15 s beyond (a longer one, a drain asked, is written)", () => {
    expect(leaseIsFresh(now + lease + LEASE_FRESH_MS, now, lease)).toBe(true); // set this very moment
    expect(leaseIsFresh(now + lease, now, lease)).toBe(true); // set 15 s ago
    expect(leaseIsFresh(now + lease - 1, now, lease)).toBe(false); // set more than 15 s ago: written again
    expect(leaseIsFresh(now + lease + LEASE_FRESH_MS, now, 60_000)).toBe(false); // fail's drain asks a minute
    expect(leaseIsFresh(now - 1, now, lease)).toBe(false); // ran out
    expect(leaseIsFresh(Number.NaN, now, lease)).toBe(false); // no expiry read
  });

  it("property: a renewal at t is left as it is until t + 15 s and no longer; a lease left runs at least as asked", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: lease }), fc.integer({ min: 0, max: 60_000 }), (asked, later) => {
        const written = now + asked + LEASE_FRESH_MS; // what renewLock writes at `now`
        expect(leaseIsFresh(written, now + later, asked)).toBe(later <= LEASE_FRESH_MS);
        if (leaseIsFresh(written, now + later, asked)) expect(written - (now + later)).toBeGreaterThanOrEqual(asked);
      }),
    );
  });
});
