import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// The bench as `npm run bench:scale` runs it, through tsx; no timing is asserted (the machine is shared).
function benchScale(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/bench/scale.ts", ...args], {
    encoding: "utf8",
    timeout: 170_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const STEPS = ["prepare", "compute", "finalize", "complete"];

describe("npm run bench:scale", () => {
  it("drives prepare, every batch, every shard and complete in their own processes, and reports one JSON object", () => {
    // Act
    const r = benchScale("--rows", "20000", "--json");

    // Assess
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.rows).toBe(20_000);
    expect(report.slices).toBe(20); // batches of 1,000 rows
    expect(report.children).toBe(5); // 4 slices a child
    expect(report.shards).toBe(64);
    for (const step of STEPS) {
      expect(report.peakRssMB[step]).toBeGreaterThan(report.loadedRssMB[step] - 1);
      expect(report.peakRssMB[step]).toBeLessThan(report.memoryMB[step]);
      expect(report.wallSeconds[step]).toBeGreaterThan(0);
    }
    expect(report.memoryMB).toEqual({ prepare: 4096, compute: 1024, finalize: 2048, complete: 1024 });
    expect(report.processes).toEqual({ prepare: 1, compute: 5, finalize: 17, complete: 1 });
    for (const step of STEPS) expect(report.coldInvocationPeakRssMB[step]).toBeGreaterThan(0);
    expect(report.maxStatePayloadBytes).toBeGreaterThan(0);
    expect(report.maxStatePayloadBytes).toBeLessThan(256 * 1024);
    expect(report.maxItemBytes).toBeGreaterThan(0);
    expect(report.maxItemBytes).toBeLessThan(400 * 1024);
    expect(report.maxObjectBytes).toBeGreaterThan(0);
    // Five outputs like {"batches":4,"rows":4000,"rejected":0}, and five {} once each child's output is dropped.
    expect(report.mapResultBytes).toBeGreaterThan(5 * 30);
    expect(report.mapResultAsDefinedBytes).toBe(2 + 5 * 2 + 4);
    // Every row judged once, and every write accounted for: one batch record per slice, one line per refund.
    const { accounting } = report;
    expect(accounting.rows).toBe(20_000);
    expect(accounting.computed + accounting.skipped + accounting.rejected).toBe(20_000);
    expect(accounting.computed).toBeGreaterThan(19_000); // a national outage: nearly every row
    expect(accounting.rejected).toBe(2); // the two rows that share a subscription id
    expect(accounting.ok).toBe(true);
    expect(report.items.batch.count).toBe(20);
    expect(report.items.line.count).toBe(report.lines.refund);
    expect(report.lines.refund).toBeGreaterThan(18_000);
    expect(report.lines.goodwill).toBeGreaterThan(10_000); // several subscriptions a subscriber
    expect(report.items.runCompleted.count).toBe(1);
    expect(report.ok).toBe(true);
    expect(report.failed).toEqual([]);
  }, 180_000);

  it("--goodwill active: KDDI as refunded, the basic fee to voice-only plans and the apology to nearly every row", () => {
    // Act
    const r = benchScale("--rows", "6000", "--goodwill", "active", "--json");

    // Assess: ~7.7% of rows voice-only; au and UQ mobile (95%) credited once each, one row a subscriber
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.accounting).toMatchObject({ rows: 6000, ok: true });
    expect(report.lines.refund).toBeGreaterThan(6000 * 0.05);
    expect(report.lines.refund).toBeLessThan(6000 * 0.11);
    expect(report.lines.goodwill).toBeGreaterThan(6000 * 0.88);
    expect(report.lines.goodwill).toBeLessThan(6000 * 0.96);
    expect(report.ok).toBe(true);
  }, 180_000);

  it("exits 2 and says what to give without --rows or --snapshot, or with another --goodwill", () => {
    const bad = benchScale("--rows", "10", "--goodwill", "all");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("bench:scale: --goodwill: refunded or active (got all)\n");
    const r = benchScale("--json");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("give --rows N");
    expect(r.stdout).toBe("");
  });
});
