import { describe, expect, it } from "vitest";
import { standingRun } from "../../../bin/commands/finance";
import type { RunRecord } from "../../../shared/store/refund-store";

const run = (runId: string, status: RunRecord["status"], startedAt: string, extra: Partial<RunRecord> = {}) =>
  ({
    incidentId: "inc",
    runId,
    requestedBy: "finance",
    reason: "test",
    dryRun: false,
    status,
    startedAt,
    completedAt: status === "completed" ? startedAt.replace("T00", "T01") : undefined,
    snapshotName: "subs.csv",
    counts: { rows: 10, computed: 6, skipped: 3, rejected: 1, calculated: 6, adjusted: 0, voided: 0, unchanged: 0 },
    ...extra,
  }) as RunRecord;

describe("standingRun (what hiwari report says the standing lines come from)", () => {
  it("names the last completed run that wrote, with where its rows went and its rejected rows", () => {
    const runs = [
      run("run-a", "completed", "2011-12-23T00:00:00Z"),
      run("run-b", "completed", "2011-12-24T00:00:00Z"),
      run("run-c", "completed", "2011-12-25T00:00:00Z", { dryRun: true }),
    ];
    expect(standingRun(runs, "/s")).toBe(
      "as of run run-b (2011-12-24T01:00:00Z, subs.csv): rows 10 = computed 6 + skipped 3 + rejected 1; " +
        "rejected rows in /s/runs/run-b/rejects.jsonl\n",
    );
  });

  it("says so when a later run failed or is still running: it may have changed lines", () => {
    const runs = [
      run("run-a", "completed", "2011-12-23T00:00:00Z"),
      run("run-b", "failed", "2011-12-24T00:00:00Z"),
      run("run-c", "requested", "2011-12-25T00:00:00Z"),
    ];
    expect(standingRun(runs, "/s").split("\n")).toEqual([
      expect.stringMatching(/^as of run run-a /),
      "note: run run-b (failed, started 2011-12-24T00:00:00Z) came after it and may have changed lines; run the incident again to settle them",
      "",
    ]);
  });
});
