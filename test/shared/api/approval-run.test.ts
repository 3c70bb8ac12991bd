import { describe, expect, it } from "vitest";
import { approvalRunToStart, unstartedApprovalMessage } from "../../../shared/api/approval-run";
import { parseIncident } from "../../../shared/input/incident";
import type { Proposal } from "../../../shared/pipeline/proposal";
import { incidentDoc } from "../../helpers/factories";

const ALICE = "arn:aws:iam::123456789012:user/alice";
const BOB = "arn:aws:iam::123456789012:user/bob";

const approved = (extra: Partial<Proposal> = {}): Proposal => ({
  incidentId: "inc-1",
  proposalId: "prop-0123456789abcdef0123",
  state: "approved",
  proposedBy: ALICE,
  reason: "C-2's fee was wrong",
  proposedAt: "2011-12-24T01:00:00.000Z",
  previewRunId: "run-0123456789abcdef0123",
  baseRunId: null,
  writers: [],
  incidentDigest: "d".repeat(64),
  snapshotName: "s3://run-bucket/snapshots/b.csv?versionId=v2",
  snapshotDigest: "s".repeat(64),
  counts: {} as Proposal["counts"],
  totals: [],
  approvedBy: BOB,
  approvedAt: "2011-12-24T02:00:00.000Z",
  ...extra,
});

describe("approvalRunToStart", () => {
  it("asks for a writing run by the proposal's id, its approver, the preview's incident, snapshot and batch size", () => {
    // Prepare
    const incident = parseIncident(incidentDoc({ incidentId: "inc-1" }));
    const snapshot = { bucket: "run-bucket", key: "snapshots/b.csv", versionId: "v2" };

    // Act
    const run = approvalRunToStart(approved(), BOB, {
      preview: { batchSize: 500 },
      incident,
      incidentText: '{"incidentId":"inc-1"}',
      snapshot,
    });

    // Assess
    expect(run).toEqual({
      incidentId: "inc-1",
      requestId: "prop-0123456789abcdef0123",
      requestedBy: BOB,
      reason: `C-2's fee was wrong (proposal prop-0123456789abcdef0123 by ${ALICE}, approved by ${BOB})`,
      dryRun: false,
      batchSize: 500,
      incident,
      incidentText: '{"incidentId":"inc-1"}',
      snapshot,
      proposalId: "prop-0123456789abcdef0123",
    });
  });
});

describe("unstartedApprovalMessage", () => {
  const runId = "run-aaaaaaaaaaaaaaaaaaaa";

  it("says the proposal failed when failApproved failed it (its run never recorded)", () => {
    const after = approved({ state: "failed", failure: "snapshot: gone" });
    expect(unstartedApprovalMessage(after, runId, "the request is not valid: snapshot: gone")).toBe(
      "proposal prop-0123456789abcdef0123 was approved, but its run could not start, so it failed: snapshot: gone",
    );
  });

  it("says the proposal stays approved while its run exists, which settles it when it ends", () => {
    const why = "request prop-0123456789abcdef0123 started run run-aaaaaaaaaaaaaaaaaaaa with another batch size";
    expect(unstartedApprovalMessage(approved(), runId, why)).toBe(
      `proposal prop-0123456789abcdef0123 was approved, but its run could not start: ${why}. It stays approved: ` +
        "its run run-aaaaaaaaaaaaaaaaaaaa exists, and settles it when it ends",
    );
  });
});
