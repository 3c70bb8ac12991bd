import { describe, expect, it } from "vitest";
import { accountingRow, n, runSummary, totalRow } from "../../bin/format";
import type { RunRecord } from "../../shared/store/refund-store";

describe("n", () => {
  it("groups thousands exactly, whatever the size or type", () => {
    expect([n(0), n(1234567), n("48603"), n(10n ** 21n + 7n)]).toEqual([
      "0",
      "1,234,567",
      "48,603",
      "1,000,000,000,000,000,000,007",
    ]);
  });
});

describe("accountingRow and totalRow", () => {
  it("say where every row went, and a service's total in aligned columns", () => {
    expect(accountingRow({ rows: 48603, computed: 15742, skipped: 32861, rejected: 0 } as never)).toBe(
      "rows 48,603 = computed 15,742 + skipped 32,861 + rejected 0",
    );
    expect(totalRow({ serviceCode: "IMADOKO", currency: "JPY", lines: 1200, amount: "25200" })).toBe(
      "IMADOKO      JPY       1,200 lines          25,200",
    );
    expect(totalRow({ serviceCode: null, currency: "JPY", lines: 3, amount: 600n })).toBe(
      "goodwill     JPY           3 lines             600",
    );
  });
});

describe("runSummary", () => {
  const run: RunRecord = {
    incidentId: "inc",
    runId: "run-1",
    requestedBy: "alice",
    reason: "sp-mode",
    dryRun: true,
    status: "completed",
    startedAt: "2011-12-24T09:00:00.000Z",
    completedAt: "2011-12-24T09:01:00.000Z",
    policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
    incidentDigest: "i",
    snapshotDigest: "s",
    snapshotName: "subs.csv",
    batchSize: 2000,
    counts: { rows: 3, computed: 2, skipped: 0, rejected: 1, calculated: 2, adjusted: 0, voided: 0, unchanged: 0 },
    totals: [{ serviceCode: "IMADOKO", currency: "JPY", lines: 2, amount: "40" }],
  };

  it("prints the run's line, what it changed and its totals; with detail its snapshot, policy and end", () => {
    expect(runSummary(run)).toBe(
      "2011-12-24T09:00:00.000Z  run-1  completed (dry run)  by alice: sp-mode\n" +
        "    rows 3 = computed 2 + skipped 0 + rejected 1\n" +
        "    lines: new 2, adjusted 0, voided 0, unchanged 0\n" +
        `    ${totalRow({ serviceCode: "IMADOKO", currency: "JPY", lines: 2, amount: "40" })}\n`,
    );
    expect(
      runSummary({ ...run, error: "boom" }, true)
        .split("\n")
        .slice(1, 4),
    ).toEqual([
      "    snapshot subs.csv, batches of 2,000 rows",
      "    policy calendar-day, day basis actual, rounding floor",
      "    completed 2011-12-24T09:01:00.000Z",
    ]);
    expect(runSummary({ ...run, error: "boom" })).toContain("\n    error: boom\n");
  });
});
