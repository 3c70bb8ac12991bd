import { afterEach, describe, expect, it, vi } from "vitest";
import { runIdOf } from "../../../shared/pipeline/run-context";
import { ALICE, BOB } from "../../helpers/api-events";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { PipelineWorld, useDeployedStack } from "./deployed-pipeline";

/**
 * Four eyes on AWS, executed: proposals-api, approve-proposal and the run they start, each function as its own
 * role (every call checked against its IAM policies), the state machine under the ASL interpreter.
 */
const stack = useDeployedStack();
vi.setConfig({ testTimeout: 240_000 });

let worlds: PipelineWorld[] = [];
afterEach(() => {
  const violations = worlds.flatMap((w) => w.log.violations());
  worlds = [];
  expect(violations, "calls outside their caller's IAM policies").toEqual([]);
});

describe("a rerun through a proposal, executed", () => {
  it("proposed by one principal, approved by another, runs as previewed and settles the proposal applied", async () => {
    // Prepare: a first run, then a preview of a corrected snapshot.
    const w = new PipelineWorld(stack());
    worlds.push(w);
    const incident = incidentDoc({ incidentId: "sm-four-eyes" });
    const id = incident.incidentId;
    const post = async (requestId: string, key: string, dryRun: boolean) => {
      const body = {
        requestId,
        incident,
        snapshot: { bucket: w.bucket, key },
        reason: "outage",
        batchSize: 100,
        dryRun,
      };
      const accepted = await w.postRun(id, body);
      expect(accepted.statusCode).toBe(202);
      await w.finished(String(accepted.body.runId));
      return String(accepted.body.runId);
    };
    w.putSnapshot("snapshots/sm-four-eyes.csv", csvOf([row({}, 1), row({}, 2)]));
    await post("first", "snapshots/sm-four-eyes.csv", false);
    w.putSnapshot("snapshots/sm-four-eyes.csv", csvOf([row({}, 1), row({ monthly_fee: "310" }, 2), row({}, 3)]));
    const previewRunId = await post("preview", "snapshots/sm-four-eyes.csv", true);
    // A snapshot uploaded after the preview is not the one applied: the approval reads the previewed version.
    w.putSnapshot("snapshots/sm-four-eyes.csv", csvOf([row({}, 1)]));

    // Act
    const proposed = await w.api(
      "FinanceApiProposalsFunction",
      {
        method: "POST",
        path: `/incidents/${id}/proposals`,
        pathParameters: { incidentId: id },
        body: { previewRunId, reason: "C-2's fee was wrong" },
      },
      ALICE,
    );
    const proposalId = String(proposed.body.proposalId);
    const approved = await w.api(
      "FinanceApiApproveProposalFunction",
      {
        method: "POST",
        path: `/incidents/${id}/proposals/${proposalId}/approve`,
        pathParameters: { incidentId: id, proposalId },
      },
      BOB,
    );
    const runId = runIdOf(id, proposalId);
    const execution = await w.finished(runId);

    // Assess
    expect([proposed.statusCode, approved.statusCode]).toEqual([201, 202]);
    expect(execution).toMatchObject({ status: "SUCCEEDED" });
    const preview = await w.run(id, previewRunId);
    expect(await w.run(id, runId)).toMatchObject({
      status: "completed",
      proposalId,
      requestedBy: BOB,
      snapshotName: preview?.snapshotName,
      counts: preview?.counts,
      totals: preview?.totals,
    });
    expect(await w.store.getProposal(id, proposalId)).toMatchObject({
      state: "applied",
      proposedBy: ALICE,
      approvedBy: BOB,
      appliedRunId: runId,
    });
  });
});
