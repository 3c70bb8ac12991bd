import { describe, expect, it } from "vitest";
import { standingOf, writingRuns } from "../../../shared/pipeline/standing";
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
    ...(status === "completed" ? { completedAt: startedAt.replace("T00", "T01") } : {}),
    totals: [{ serviceCode: "IMADOKO", currency: "JPY", lines: 1, amount: runId.length.toString() }],
    ...extra,
  }) as RunRecord;

describe("standingOf", () => {
  it("stands on the last completed run that wrote, and names the writers started after it that did not complete", () => {
    // Prepare
    const runs = [
      run("run-c", "running", "2011-12-25T00:00:00Z"),
      run("run-a", "completed", "2011-12-23T00:00:00Z"),
      run("run-p", "completed", "2011-12-26T00:00:00Z", { dryRun: true }),
      run("run-b", "failed", "2011-12-24T00:00:00Z"),
      run("run-r", "requested", "2011-12-27T00:00:00Z"),
    ];
    // Act
    const standing = standingOf(runs);
    // Assess: the preview and the run only requested write nothing; the later ones in the order they started
    expect(standing.asOf?.runId).toBe("run-a");
    expect(standing.totals).toEqual(runs[1]?.totals);
    expect(standing.unsettled.map((r) => r.runId)).toEqual(["run-b", "run-c"]);
  });

  it("owes nothing as of no run when none completed, and names every writer", () => {
    const standing = standingOf([run("run-x", "interrupted", "2011-12-23T00:00:00Z")]);
    expect(standing).toEqual({ totals: [], unsettled: [expect.objectContaining({ runId: "run-x" })] });
  });

  it("writingRuns leaves out previews and runs only requested", () => {
    const runs = [run("a", "completed", "1"), run("b", "requested", "2"), run("c", "failed", "3", { dryRun: true })];
    expect(writingRuns(runs).map((r) => r.runId)).toEqual(["a"]);
  });
});
