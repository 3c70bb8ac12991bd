import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ApproveDeps, makeHandler } from "../../../functions/approve-proposal/handler";
import { logger } from "../../../functions/commons/powertools/powertools";
import { makeFailHandler } from "../../../functions/finalize-run/handler";
import { makeHandler as makeProposals } from "../../../functions/proposals-api/handler";
import { ExecutionInputSchema } from "../../../shared/api/run-request";
import type { Proposal } from "../../../shared/pipeline/proposal";
import { runIdOf, sha256 } from "../../../shared/pipeline/run-context";
import type { RunRecord } from "../../../shared/store/refund-store";
import { ALICE, answer, apiEvent, BOB, CAROL } from "../../helpers/api-events";
import { csvOf, incidentDoc, type Row, row } from "../../helpers/factories";
import { fakeStepFunctions, STATE_MACHINE } from "../../helpers/fake-step-functions";
import {
  BUCKET,
  executionInput,
  type Harness,
  lambdaContext,
  runThrough,
  startHarness,
} from "../../helpers/pipeline-harness";

const APPROVE = "/incidents/{incidentId}/proposals/{proposalId}/approve";

let h: Harness;
let steps: ReturnType<typeof fakeStepFunctions>;
let deps: ApproveDeps;
let approveHandler: ReturnType<typeof makeHandler>;
beforeAll(async () => {
  h = await startHarness();
  steps = fakeStepFunctions();
  deps = {
    store: h.store,
    s3: h.s3.client,
    filesOf: h.deps().filesOf,
    sfn: steps.sfn,
    stateMachineArn: STATE_MACHINE,
    snapshotBucket: BUCKET,
    requireProposalForReruns: true, // prod: the approved run is a rerun, and passes only as a proposal's
  };
  approveHandler = makeHandler(async () => deps);
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

/** A run through the pipeline's handlers, as its execution would run it. */
async function runOf(incidentId: string, requestId: string, rows: Row[], dryRun: boolean): Promise<RunRecord> {
  const key = `snapshots/${incidentId}/${requestId}.csv`;
  const version = h.s3.put(BUCKET, key, csvOf(rows));
  const input = executionInput(h, incidentDoc({ incidentId }), { key, versionId: version }, { requestId, dryRun });
  await runThrough(h, h.deps, input);
  return (await h.store.getRun(incidentId, input.runId)) as RunRecord;
}

/** A first run, then a preview of a corrected snapshot, proposed by Alice through the API. */
async function proposalOf(incidentId: string): Promise<{ proposal: Proposal; first: RunRecord; preview: RunRecord }> {
  const first = await runOf(incidentId, "first", [row({}, 1), row({}, 2)], false);
  const preview = await runOf(incidentId, "preview", [row({}, 1), row({ monthly_fee: "310" }, 2), row({}, 3)], true);
  const made = await makeProposals(async () => h.store)(
    apiEvent(
      "POST",
      "/incidents/{incidentId}/proposals",
      { incidentId },
      {
        body: { previewRunId: preview.runId, reason: "C-2's fee was wrong" },
        userArn: ALICE,
      },
    ),
    lambdaContext,
  );
  return { proposal: JSON.parse(made.body) as Proposal, first, preview };
}

const approve = (proposal: Proposal, userArn: string, body?: unknown, handler = approveHandler) =>
  handler(
    apiEvent("POST", APPROVE, { incidentId: proposal.incidentId, proposalId: proposal.proposalId }, { body, userArn }),
    lambdaContext,
  );

const stored = (p: Proposal) => h.store.getProposal(p.incidentId, p.proposalId) as Promise<Proposal>;

describe("approve-proposal (POST /incidents/{incidentId}/proposals/{proposalId}/approve)", () => {
  let proposal: Proposal;
  let preview: RunRecord;

  it("refuses its proposer (403, four eyes), even when the body names another approver; nothing is started", async () => {
    // Prepare
    ({ proposal, preview } = await proposalOf("four-eyes"));

    // Act
    const refused = answer(await approve(proposal, ALICE, { approvedBy: BOB, by: BOB }));

    // Assess
    expect(refused).toEqual({
      http: 403,
      body: { message: `${ALICE} proposed ${proposal.proposalId}: another person must approve it (four eyes)` },
    });
    expect((await stored(proposal)).state).toBe("open");
    expect(steps.executions.size).toBe(0);
  });

  it("approved by another principal (the body ignored), starts one run applying the preview: 202", async () => {
    // Act: Bob approves; the body says Carol.
    const approved = answer(await approve(proposal, BOB, { approvedBy: CAROL, by: CAROL }));

    // Assess: the proposal, approved by Bob; the run, requested by the proposal's id as request id.
    const runId = runIdOf("four-eyes", proposal.proposalId);
    expect(approved).toEqual({
      http: 202,
      body: {
        proposal: { ...proposal, state: "approved", approvedBy: BOB, approvedAt: expect.any(String) },
        run: {
          runId,
          incidentId: "four-eyes",
          status: "requested",
          created: true,
          links: { self: `/incidents/four-eyes/runs/${runId}` },
        },
      },
    });
    expect(await stored(proposal)).toEqual(approved.body.proposal);
    // The execution's input: the preview's incident (its bytes, by digest), its snapshot version and batch size.
    const input = ExecutionInputSchema.parse(JSON.parse(steps.executions.get(runId)?.input ?? "{}"));
    expect(input).toMatchObject({
      runId,
      requestId: proposal.proposalId,
      requestedBy: BOB,
      dryRun: false,
      batchSize: preview.batchSize,
      incidentDigest: proposal.incidentDigest,
      incident: { sha256: proposal.incidentDigest },
    });
    expect(`s3://${input.snapshot.bucket}/${input.snapshot.key}?versionId=${input.snapshot.versionId}`).toBe(
      preview.snapshotName,
    );
    expect(sha256(h.s3.text(BUCKET, input.incident.key) ?? "")).toBe(proposal.incidentDigest);
    expect(await h.store.getRun("four-eyes", runId)).toMatchObject({
      status: "requested",
      proposalId: proposal.proposalId,
      requestedBy: BOB,
      reason: `C-2's fee was wrong (proposal ${proposal.proposalId} by ${ALICE}, approved by ${BOB})`,
    });
  });

  it("sent again by its approver finds the same run (200); anyone else is refused (409)", async () => {
    const again = answer(await approve(proposal, BOB));
    expect(again).toMatchObject({ http: 200, body: { proposal: { state: "approved" }, run: { created: false } } });
    const carol = answer(await approve(proposal, CAROL));
    expect(carol).toEqual({
      http: 409,
      body: {
        message: `proposal ${proposal.proposalId} is approved (approved by ${BOB}, who can resume it): only an open proposal can be approved`,
      },
    });
    expect(steps.executions.size).toBe(1);
  });

  it("settles at completion: the run reproduced the preview, so the proposal is applied", async () => {
    // Act: the execution the approval started, through the pipeline's handlers.
    const runId = runIdOf("four-eyes", proposal.proposalId);
    const input = ExecutionInputSchema.parse(JSON.parse(steps.executions.get(runId)?.input ?? "{}"));
    const done = await runThrough(h, h.deps, input);

    // Assess
    expect(done).toMatchObject({ status: "completed", counts: preview.counts, totals: preview.totals });
    expect(await h.store.getRun("four-eyes", runId)).toMatchObject({ proposalId: proposal.proposalId });
    expect(await stored(proposal)).toMatchObject({ state: "applied", appliedRunId: runId });
    expect((await stored(proposal)).failure).toBeUndefined();
  });

  it("marks the proposal failed, loudly, when its run does not reproduce it; the run stays completed", async () => {
    // Prepare: approved, then (as if the preview had said otherwise) the proposal's totals differ from the run's.
    const { proposal: other } = await proposalOf("not-reproduced");
    expect(answer(await approve(other, BOB)).http).toBe(202);
    const approved = await stored(other);
    const [imadoko] = approved.totals;
    await h.store.updateProposal({ ...approved, totals: [{ ...imadoko, amount: "1" } as never] }, "approved");
    const errors = vi.spyOn(logger, "error");

    // Act
    const runId = runIdOf("not-reproduced", other.proposalId);
    const input = ExecutionInputSchema.parse(JSON.parse(steps.executions.get(runId)?.input ?? "{}"));
    const done = await runThrough(h, h.deps, input);

    // Assess
    expect(done.status).toBe("completed");
    const settled = await stored(other);
    expect(settled).toMatchObject({ state: "failed", appliedRunId: runId });
    expect(settled.failure).toBe(
      `owed for IMADOKO JPY: ${imadoko?.lines} lines, ${imadoko?.amount} where the preview had ${imadoko?.lines} lines, 1`,
    );
    expect(errors).toHaveBeenCalledWith(
      "proposal not reproduced: the run's changes stand, review them and correct with a new proposal",
      expect.objectContaining({ proposalId: other.proposalId, runId, differences: [settled.failure] }),
    );
    errors.mockRestore();
  });

  it("marks the proposal failed when its run fails (fail-run)", async () => {
    // Prepare
    const { proposal: other } = await proposalOf("run-fails");
    expect(answer(await approve(other, BOB)).http).toBe(202);
    const runId = runIdOf("run-fails", other.proposalId);

    // Act
    await makeFailHandler(h.deps, 0)(
      { incidentId: "run-fails", runId, error: { Error: "States.TaskFailed", Cause: "boom" } },
      lambdaContext,
    );

    // Assess
    expect(await stored(other)).toMatchObject({
      state: "failed",
      appliedRunId: runId,
      failure: `run ${runId} failed: States.TaskFailed: boom`,
    });
  });

  it("refuses once a run came since the preview (409), leaving the proposal open", async () => {
    // Prepare: a run written since the preview (as if started before proposing was refused).
    const { proposal: other, first } = await proposalOf("moved");
    const since = { ...first, runId: "run-since", startedAt: new Date().toISOString() };
    await h.store.putRun(since);

    // Act
    const refused = answer(await approve(other, BOB));

    // Assess
    expect(refused).toEqual({
      http: 409,
      body: {
        message: `run run-since of incident moved came, ended or was resumed after the preview (which stood on ${first.runId}): the preview no longer says what applying it would do; propose again`,
      },
    });
    expect((await stored(other)).state).toBe("open");
  });

  it("refuses when the incident kept with the preview is not the one previewed (409), leaving the proposal open", async () => {
    // Prepare: the preview's incident.json replaced among its files.
    const { proposal: other, preview: changed } = await proposalOf("changed");
    const key = `runs/changed/${changed.runId}/incident.json`;
    h.s3.put(BUCKET, key, JSON.stringify({ ...JSON.parse(h.s3.text(BUCKET, key) ?? "{}"), title: "edited" }));

    // Act
    const refused = answer(await approve(other, BOB));

    // Assess
    expect(refused).toEqual({
      http: 409,
      body: { message: "the incident is not the one previewed (its SHA-256 differs): propose again" },
    });
    expect((await stored(other)).state).toBe("open");
  });

  it("refuses the approval another approval won meanwhile (409): one approval wins", async () => {
    // Prepare: Carol's approval lands between Bob's read of the proposal and his conditional write.
    const { proposal: other } = await proposalOf("race");
    await h.store.updateProposal({ ...other, state: "approved", approvedBy: CAROL }, "open");
    const stale: ApproveDeps = {
      ...deps,
      store: Object.assign(Object.create(h.store), { getProposal: async () => other }) as ApproveDeps["store"],
    };

    // Act
    const lost = answer(
      await approve(
        other,
        BOB,
        undefined,
        makeHandler(async () => stale),
      ),
    );

    // Assess
    expect(lost).toEqual({
      http: 409,
      body: { message: `proposal ${other.proposalId} was approved by someone else meanwhile` },
    });
    expect(await stored(other)).toMatchObject({ state: "approved", approvedBy: CAROL });
  });

  it("marks an approved proposal failed (409) when its run cannot start: its run id taken by other inputs", async () => {
    // Prepare: a run recorded under the proposal's run id, with another incident (as no runs POST may now record).
    const { proposal: other, preview: previewed } = await proposalOf("taken");
    const runId = runIdOf("taken", other.proposalId);
    await h.store.createRun({
      ...previewed,
      runId,
      dryRun: false,
      status: "requested",
      incidentDigest: "0".repeat(64),
    });

    // Act
    const refused = answer(await approve(other, BOB));

    // Assess
    const why = `request ${other.proposalId} started run ${runId} with another incident; use a new request id`;
    expect(refused).toEqual({
      http: 409,
      body: { message: `proposal ${other.proposalId} was approved, but its run could not start, so it failed: ${why}` },
    });
    expect(await stored(other)).toMatchObject({ state: "failed", approvedBy: BOB, failure: why });
    expect(steps.executions.has(runId)).toBe(false);
  });

  it("answers 404 for an unknown proposal", async () => {
    const none = answer(
      await approveHandler(apiEvent("POST", APPROVE, { incidentId: "race", proposalId: "prop-none" }), lambdaContext),
    );
    expect(none).toEqual({ http: 404, body: { message: "incident race has no proposal prop-none" } });
  });
});
