import { describe, expect, it } from "vitest";
import { standingOf, storedAtStart, writingRuns } from "../../../shared/pipeline/standing";
import { type RunRecord, SHARDS } from "../../../shared/store/refund-store";

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

  it("writingRuns leaves out previews, runs only requested and runs that failed before prepare recorded them", () => {
    const runs = [
      run("a", "completed", "1", { snapshotDigest: "d" }),
      run("b", "requested", "2"),
      run("c", "failed", "3", { dryRun: true, snapshotDigest: "d" }),
      // Failed with the digest the API left empty: refused before prepare wrote anything
      run("d", "failed", "4", { snapshotDigest: "" }),
      run("e", "failed", "5", { snapshotDigest: "d" }),
    ];
    expect(writingRuns(runs).map((r) => r.runId)).toEqual(["a", "e"]);
  });
});

describe("storedAtStart", () => {
  const counts = (n: number) => Array.from({ length: SHARDS }, (_, i) => n + i);

  it("is 0 in every shard when no run wrote: previews and runs only requested write nothing", () => {
    expect(storedAtStart([])).toEqual(new Array(SHARDS).fill(0));
    const none = [run("p", "completed", "2011-12-23T00:00:00Z", { dryRun: true }), run("r", "requested", "1")];
    expect(storedAtStart(none)).toEqual(new Array(SHARDS).fill(0));
  });

  it("is the count the last writer recorded, a copy of it", () => {
    const first = run("a", "completed", "2011-12-23T00:00:00Z", { stored: counts(1) });
    const second = run("b", "completed", "2011-12-24T00:00:00Z", { stored: counts(7) });
    const found = storedAtStart([second, first]);
    expect(found).toEqual(counts(7));
    found?.fill(0);
    expect(second.stored).toEqual(counts(7));
  });

  it("is unknown when the last writer to complete is not the last to start: a later run may have written after it", () => {
    // a lost its lock, b started and completed without a count, then a's completion landed (or a clock went back)
    const late = run("a", "completed", "2011-12-23T00:00:00Z", {
      completedAt: "2011-12-25T00:00:00Z",
      stored: counts(1),
    });
    const later = run("b", "completed", "2011-12-24T00:00:00Z", { stored: counts(2) });
    expect(storedAtStart([late, later])).toBeUndefined();
  });

  it("is unknown when a run that could have written did not complete, whenever it started", () => {
    const done = run("a", "completed", "2011-12-24T00:00:00Z", { stored: counts(1) });
    for (const status of ["failed", "running", "interrupted", "abandoned"] as const) {
      expect(storedAtStart([done, run("x", status, "2011-12-25T00:00:00Z")])).toBeUndefined();
      // A run started before the count's and resumed after it, then stopped again, may have written after it too
      expect(storedAtStart([done, run("y", status, "2011-12-20T00:00:00Z")])).toBeUndefined();
    }
    // A preview that failed wrote nothing
    expect(storedAtStart([done, run("p", "failed", "2011-12-25T00:00:00Z", { dryRun: true })])).toEqual(counts(1));
    // Nor did a run refused before prepare recorded it (the API's record, its snapshot digest still empty)
    expect(storedAtStart([done, run("q", "failed", "2011-12-25T00:00:00Z", { snapshotDigest: "" })])).toEqual(
      counts(1),
    );
  });

  it("is unknown when the last writer recorded no count, or one that is not a count per shard", () => {
    const at = "2011-12-24T00:00:00Z";
    expect(storedAtStart([run("a", "completed", at)])).toBeUndefined();
    for (const stored of [counts(0).slice(1), [...counts(0).slice(1), -1], [...counts(0).slice(1), 0.5]])
      expect(storedAtStart([run("a", "completed", at, { stored })])).toBeUndefined();
    // An earlier writer's count does not stand for a later writer without one
    const later = run("b", "completed", "2011-12-25T00:00:00Z");
    expect(storedAtStart([run("a", "completed", at, { stored: counts(1) }), later])).toBeUndefined();
  });
});
