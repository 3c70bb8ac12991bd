import { describe, expect, it } from "vitest";
import { reservedRequestIdProblem, unapprovedRerunRefusal } from "../../../shared/pipeline/rerun-policy";
import type { RunRecord } from "../../../shared/store/refund-store";

const run = (runId: string, extra: Partial<RunRecord> = {}): RunRecord => ({
  incidentId: "inc",
  runId,
  requestedBy: "alice",
  reason: "r",
  dryRun: false,
  status: "completed",
  startedAt: "2011-12-23T00:00:00Z",
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  incidentDigest: "i",
  snapshotDigest: "s",
  snapshotName: "s3://b/k?versionId=1",
  batchSize: 1000,
  ...extra,
});

describe("unapprovedRerunRefusal (requireProposalForReruns)", () => {
  const wanted = { incidentId: "inc", runId: "run-new", dryRun: false };

  it("lets an incident's first run, a dry run, a retry of the same run and an approved proposal's run through", () => {
    expect(unapprovedRerunRefusal(wanted, [])).toBeUndefined();
    expect(unapprovedRerunRefusal(wanted, [run("run-preview", { dryRun: true })])).toBeUndefined();
    expect(unapprovedRerunRefusal({ ...wanted, dryRun: true }, [run("run-first")])).toBeUndefined();
    expect(unapprovedRerunRefusal(wanted, [run("run-new", { status: "running" })])).toBeUndefined();
    expect(unapprovedRerunRefusal({ ...wanted, proposalId: "prop-1" }, [run("run-first")])).toBeUndefined();
  });

  it("refuses a rerun after a writing run in any status (a failed or only requested one too), saying what to do", () => {
    for (const status of ["completed", "failed", "requested"] as const)
      expect(unapprovedRerunRefusal(wanted, [run("run-first", { status })])).toBe(
        "incident inc has a run that writes lines already (run-first): here a rerun needs four eyes. Send it as a " +
          "dry run (dryRun: true), propose that preview (POST /incidents/inc/proposals with its previewRunId and a " +
          "reason), and have another person approve it (POST /incidents/inc/proposals/{proposalId}/approve)",
      );
  });
});

describe("reservedRequestIdProblem", () => {
  it("keeps a proposal's id (prop-…) for its approval's run", () => {
    expect(reservedRequestIdProblem("prop-0123456789abcdef0123")).toBe(
      "requestId: must not start with prop- (a proposal's run is requested by its approval)",
    );
    expect(reservedRequestIdProblem("PROP-1")).toBeDefined();
    expect(reservedRequestIdProblem("finance-2011-12-22-001")).toBeUndefined();
  });
});
