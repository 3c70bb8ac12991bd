import { SFNServiceException } from "@aws-sdk/client-sfn";
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
  runSteps,
  runThrough,
  startHarness,
} from "../../helpers/pipeline-harness";

const APPROVE = "/incidents/{incidentId}/proposals/{proposalId}/approve";
const PREVIEW_AGAIN = "preview again (a new dry run) and propose that preview";

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

/** A run through the pipeline's handlers, as its execution would run it, requested by `by` (finance's user). */
async function runOf(
  incidentId: string,
  requestId: string,
  rows: Row[],
  dryRun: boolean,
  by?: string,
): Promise<RunRecord> {
  const key = `snapshots/${incidentId}/${requestId}.csv`;
  const version = h.s3.put(BUCKET, key, csvOf(rows));
  const input = executionInput(
    h,
    incidentDoc({ incidentId }),
    { key, versionId: version },
    { requestId, dryRun, ...(by ? { requestedBy: by } : {}) },
  );
  await runThrough(h, h.deps, input);
  return (await h.store.getRun(incidentId, input.runId)) as RunRecord;
}

/** A preview of a corrected snapshot (C-2's fee, and a new C-3), run by `by`. */
const previewOf = (incidentId: string, requestId = "preview", by?: string) =>
  runOf(incidentId, requestId, [row({}, 1), row({ monthly_fee: "310" }, 2), row({}, 3)], true, by);

/** `preview` proposed through the API by `userArn`. */
async function propose(preview: RunRecord, userArn = ALICE): Promise<Proposal> {
  const made = await makeProposals(async () => h.store)(
    apiEvent(
      "POST",
      "/incidents/{incidentId}/proposals",
      { incidentId: preview.incidentId },
      { body: { previewRunId: preview.runId, reason: "C-2's fee was wrong" }, userArn },
    ),
    lambdaContext,
  );
  expect(made.statusCode).toBe(201);
  return JSON.parse(made.body) as Proposal;
}

/** A first run of a new incident, then a preview of a corrected snapshot, proposed by Alice through the API. */
async function proposalOf(
  incidentId: string,
  previewBy?: string,
): Promise<{ proposal: Proposal; first: RunRecord; preview: RunRecord }> {
  const first = await runOf(incidentId, "first", [row({}, 1), row({}, 2)], false);
  const preview = await previewOf(incidentId, "preview", previewBy);
  return { proposal: await propose(preview), first, preview };
}

const approve = (proposal: Proposal, userArn: string, body?: unknown, handler = approveHandler) =>
  handler(
    apiEvent("POST", APPROVE, { incidentId: proposal.incidentId, proposalId: proposal.proposalId }, { body, userArn }),
    lambdaContext,
  );

const stored = (p: Proposal) => h.store.getProposal(p.incidentId, p.proposalId) as Promise<Proposal>;
const runIdOfProposal = (p: Proposal) => runIdOf(p.incidentId, p.proposalId);
/** The input of the execution the approval of `p` started. */
const startedInput = (p: Proposal) =>
  ExecutionInputSchema.parse(JSON.parse(steps.executions.get(runIdOfProposal(p))?.input ?? "{}"));

describe("approve-proposal (POST /incidents/{incidentId}/proposals/{proposalId}/approve)", () => {
  it("refuses its proposer (403, four eyes), even when the body names another approver; nothing is started", async () => {
    // Prepare
    const { proposal } = await proposalOf("four-eyes");

    // Act
    const refused = answer(await approve(proposal, ALICE, { approvedBy: BOB, by: BOB }));

    // Assess
    expect(refused).toEqual({
      http: 403,
      body: { message: `${ALICE} proposed ${proposal.proposalId}: another person must approve it (four eyes)` },
    });
    expect((await stored(proposal)).state).toBe("open");
    expect(steps.callsOf(runIdOfProposal(proposal))).toEqual([]);
  });

  it("refuses whoever ran the preview (403) when another principal proposed it; a third may approve", async () => {
    // Prepare: Bob ran the preview, Alice proposed it.
    const { proposal, preview } = await proposalOf("preview-author", BOB);

    // Act
    const bob = answer(await approve(proposal, BOB));
    const carol = answer(await approve(proposal, CAROL));

    // Assess
    expect(proposal).toMatchObject({ proposedBy: ALICE, previewBy: BOB });
    expect(preview.requestedBy).toBe(BOB);
    expect(bob).toEqual({
      http: 403,
      body: {
        message: `${BOB} ran the preview ${proposal.proposalId} stands on: another person must approve it (four eyes)`,
      },
    });
    expect(carol).toMatchObject({ http: 202, body: { proposal: { state: "approved", approvedBy: CAROL } } });
  });

  it("approved by another principal (the body ignored), starts one run applying the preview: 202", async () => {
    // Prepare
    const { proposal, preview } = await proposalOf("approved");

    // Act: Bob approves; the body says Carol.
    const approved = answer(await approve(proposal, BOB, { approvedBy: CAROL, by: CAROL }));

    // Assess: the proposal, approved by Bob; the run, requested by the proposal's id as request id.
    const runId = runIdOf("approved", proposal.proposalId);
    expect(approved).toEqual({
      http: 202,
      body: {
        proposal: { ...proposal, state: "approved", approvedBy: BOB, approvedAt: expect.any(String) },
        run: {
          runId,
          incidentId: "approved",
          status: "requested",
          created: true,
          links: { self: `/incidents/approved/runs/${runId}` },
        },
      },
    });
    expect(await stored(proposal)).toEqual(approved.body.proposal);
    // The execution's input: the preview's incident (its bytes, by digest), its snapshot version and batch size.
    expect(steps.callsOf(runId)).toHaveLength(1);
    const input = startedInput(proposal);
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
    expect(await h.store.getRun("approved", runId)).toMatchObject({
      status: "requested",
      proposalId: proposal.proposalId,
      requestedBy: BOB,
      reason: `C-2's fee was wrong (proposal ${proposal.proposalId} by ${ALICE}, approved by ${BOB})`,
    });
  });

  it("sent again by its approver finds the same run (200), the same execution asked for; anyone else is refused (409)", async () => {
    // Prepare
    const { proposal } = await proposalOf("sent-again");
    expect(answer(await approve(proposal, BOB)).http).toBe(202);
    const runId = runIdOfProposal(proposal);

    // Act
    const again = answer(await approve(proposal, BOB));
    const carol = answer(await approve(proposal, CAROL));

    // Assess: two StartExecution calls, both Bob's and alike (name and input: Step Functions starts it once).
    expect(again).toMatchObject({ http: 200, body: { proposal: { state: "approved" }, run: { created: false } } });
    expect(carol).toEqual({
      http: 409,
      body: {
        message: `proposal ${proposal.proposalId} is approved (approved by ${BOB}, who can resume it): only an open proposal can be approved`,
      },
    });
    const calls = steps.callsOf(runId);
    expect(calls).toHaveLength(2);
    expect(calls[1]).toEqual(calls[0]);
  });

  it("answers 503 when its run did not start, leaving it approved; its approver's resend starts the run", async () => {
    // Prepare: Step Functions fails the first StartExecution.
    const { proposal } = await proposalOf("sfn-down");
    const runId = runIdOfProposal(proposal);
    steps.failNext(
      new SFNServiceException({
        name: "ServiceUnavailable",
        $fault: "server",
        message: "Service Unavailable",
        $metadata: { httpStatusCode: 503 },
      }),
    );
    const errors = vi.spyOn(logger, "error");

    // Act
    const down = answer(await approve(proposal, BOB));
    const afterDown = { proposal: await stored(proposal), run: await h.store.getRun("sfn-down", runId) };
    const resent = answer(await approve(proposal, BOB));

    // Assess
    expect(down).toEqual({
      http: 503,
      body: {
        message: `proposal ${proposal.proposalId} approved by ${BOB}; its run did not start: send the approval again (it resumes)`,
      },
    });
    expect(errors).toHaveBeenCalledWith(
      "approved proposal's run did not start",
      expect.objectContaining({ proposalId: proposal.proposalId }),
    );
    errors.mockRestore();
    expect(afterDown).toMatchObject({ proposal: { state: "approved", approvedBy: BOB }, run: { status: "requested" } });
    expect(resent).toMatchObject({
      http: 200,
      body: { proposal: { state: "approved" }, run: { runId, status: "requested" } },
    });
    expect(steps.callsOf(runId)).toHaveLength(2);
    expect(startedInput(proposal)).toMatchObject({ runId, requestId: proposal.proposalId });
  });

  it("settles at completion: the run reproduced the preview, so the proposal is applied", async () => {
    // Prepare
    const { proposal, preview } = await proposalOf("settles");
    expect(answer(await approve(proposal, BOB)).http).toBe(202);
    const runId = runIdOfProposal(proposal);

    // Act: the execution the approval started, through the pipeline's handlers.
    const done = await runThrough(h, h.deps, startedInput(proposal));

    // Assess
    expect(done).toMatchObject({ status: "completed", counts: preview.counts, totals: preview.totals });
    expect(await h.store.getRun("settles", runId)).toMatchObject({ proposalId: proposal.proposalId });
    expect(await stored(proposal)).toMatchObject({ state: "applied", appliedRunId: runId });
    expect((await stored(proposal)).failure).toBeUndefined();
  });

  it("marks the proposal failed, loudly, when its run does not reproduce it; the run stays completed", async () => {
    // Prepare: approved, then (as if the preview had said otherwise) the proposal's totals differ from the run's.
    const { proposal } = await proposalOf("not-reproduced");
    expect(answer(await approve(proposal, BOB)).http).toBe(202);
    const approved = await stored(proposal);
    const [imadoko] = approved.totals;
    await h.store.updateProposal({ ...approved, totals: [{ ...imadoko, amount: "1" } as never] }, "approved");
    const errors = vi.spyOn(logger, "error");

    // Act
    const runId = runIdOfProposal(proposal);
    const done = await runThrough(h, h.deps, startedInput(proposal));

    // Assess
    expect(done.status).toBe("completed");
    const settled = await stored(proposal);
    expect(settled).toMatchObject({ state: "failed", appliedRunId: runId });
    expect(settled.failure).toBe(
      `owed for IMADOKO JPY: ${imadoko?.lines} lines, ${imadoko?.amount} where the preview had ${imadoko?.lines} lines, 1`,
    );
    expect(errors).toHaveBeenCalledWith(
      "proposal not reproduced: the run's changes stand, review them and correct with a new proposal",
      expect.objectContaining({ proposalId: proposal.proposalId, runId, differences: [settled.failure] }),
    );
    errors.mockRestore();
  });

  it("marks the proposal failed when its run fails (fail-run)", async () => {
    // Prepare
    const { proposal } = await proposalOf("run-fails");
    expect(answer(await approve(proposal, BOB)).http).toBe(202);
    const runId = runIdOfProposal(proposal);

    // Act
    await makeFailHandler(h.deps, 0)(
      { incidentId: "run-fails", runId, error: { Error: "States.TaskFailed", Cause: "boom" } },
      lambdaContext,
    );

    // Assess
    expect(await stored(proposal)).toMatchObject({
      state: "failed",
      appliedRunId: runId,
      failure: `run ${runId} failed: States.TaskFailed: boom`,
    });
  });

  it("settles as applied a proposal fail-run marked failed when its run completes after all (redriven)", async () => {
    // Prepare: approved, its run prepared, then failed by fail-run (a step timed out).
    const { proposal } = await proposalOf("fails-then-completes");
    expect(answer(await approve(proposal, BOB)).http).toBe(202);
    const runId = runIdOfProposal(proposal);
    expect((await runSteps(h, h.deps, startedInput(proposal)).prepare()).status).toBe("ready");
    await makeFailHandler(h.deps, 0)(
      { incidentId: "fails-then-completes", runId, error: { Error: "States.Timeout" } },
      lambdaContext,
    );
    expect((await stored(proposal)).state).toBe("failed");

    // Act: the same execution, run again to its end.
    const done = await runThrough(h, h.deps, startedInput(proposal));

    // Assess
    expect(done.status).toBe("completed");
    const settled = await stored(proposal);
    expect(settled).toMatchObject({ state: "applied", appliedRunId: runId });
    expect(settled.failure).toBeUndefined();
  });

  it("refuses a second proposal of the incident while the first one's run is requested (409), leaving it open", async () => {
    // Prepare: two previews of one incident, both proposed; the first approved (its run requested, not yet running).
    const { proposal: one } = await proposalOf("two-proposals");
    const two = await propose(await previewOf("two-proposals", "preview-2"));
    expect(answer(await approve(one, BOB)).http).toBe(202);

    // Act
    const refused = answer(await approve(two, CAROL));

    // Assess
    expect(refused).toEqual({
      http: 409,
      body: {
        message: `run ${runIdOfProposal(one)} of incident two-proposals is requested: no proposal may be applied beside it; once it has ended, ${PREVIEW_AGAIN}`,
      },
    });
    expect((await stored(two)).state).toBe("open");
    expect(steps.callsOf(runIdOfProposal(two))).toEqual([]);
  });

  it("refuses a proposal while another proposal of the incident is approved (409), its run not yet requested", async () => {
    // Prepare: the first proposal approved by Carol, its approval not yet at its run.
    const { proposal: one } = await proposalOf("approved-beside");
    const two = await propose(await previewOf("approved-beside", "preview-2"));
    await h.store.updateProposal({ ...one, state: "approved", approvedBy: CAROL }, "open");

    // Act
    const refused = answer(await approve(two, BOB));

    // Assess
    expect(refused).toEqual({
      http: 409,
      body: {
        message: `proposal ${one.proposalId} of incident approved-beside is approved (by ${CAROL}) and not settled: one proposal at a time; once it is settled, ${PREVIEW_AGAIN}`,
      },
    });
    expect((await stored(two)).state).toBe("open");
  });

  it("refuses once a run came since the preview (409), leaving the proposal open", async () => {
    // Prepare: a run written since the preview (as if started before proposing was refused).
    const { proposal, first } = await proposalOf("moved");
    const since = { ...first, runId: "run-since", startedAt: new Date().toISOString() };
    await h.store.putRun(since);

    // Act
    const refused = answer(await approve(proposal, BOB));

    // Assess
    expect(refused).toEqual({
      http: 409,
      body: {
        message: `run run-since of incident moved came, ended or was resumed after the preview (which stood on ${first.runId}): the preview no longer says what applying it would do; ${PREVIEW_AGAIN}`,
      },
    });
    expect((await stored(proposal)).state).toBe("open");
  });

  it("refuses when the incident kept with the preview is not the one previewed (409), leaving the proposal open", async () => {
    // Prepare: the preview's incident.json replaced among its files.
    const { proposal, preview } = await proposalOf("changed");
    const key = `runs/changed/${preview.runId}/incident.json`;
    h.s3.put(BUCKET, key, JSON.stringify({ ...JSON.parse(h.s3.text(BUCKET, key) ?? "{}"), title: "edited" }));

    // Act
    const refused = answer(await approve(proposal, BOB));

    // Assess
    expect(refused).toEqual({
      http: 409,
      body: { message: `the incident is not the one previewed (its SHA-256 differs): ${PREVIEW_AGAIN}` },
    });
    expect((await stored(proposal)).state).toBe("open");
  });

  it("refuses, before approving it, a proposal whose previewed incident no longer parses (409), leaving it open", async () => {
    // Prepare: the kept incident, its digest the proposal's, no longer valid (as after a stricter schema).
    const { proposal, preview } = await proposalOf("unparsable");
    const text = JSON.stringify({ incidentId: "unparsable" });
    h.s3.put(BUCKET, `runs/unparsable/${preview.runId}/incident.json`, text);
    await h.store.updateProposal({ ...proposal, incidentDigest: sha256(text) }, "open");

    // Act
    const refused = answer(await approve(proposal, BOB));

    // Assess
    expect(refused).toEqual({
      http: 409,
      body: { message: `the previewed incident no longer parses: ${PREVIEW_AGAIN}` },
    });
    expect((await stored(proposal)).state).toBe("open");
    expect(await h.store.getRun("unparsable", runIdOfProposal(proposal))).toBeUndefined();
  });

  it("refuses the approval another approval won meanwhile (409): one approval wins", async () => {
    // Prepare: Carol's approval lands between Bob's read of the proposal and his conditional write.
    const { proposal } = await proposalOf("race");
    const stale: ApproveDeps = {
      ...deps,
      store: Object.assign(Object.create(h.store), {
        getProposal: async () => proposal,
        listProposals: async () => [proposal],
      }) as ApproveDeps["store"],
    };
    await h.store.updateProposal({ ...proposal, state: "approved", approvedBy: CAROL }, "open");

    // Act
    const lost = answer(
      await approve(
        proposal,
        BOB,
        undefined,
        makeHandler(async () => stale),
      ),
    );

    // Assess
    expect(lost).toEqual({
      http: 409,
      body: { message: `proposal ${proposal.proposalId} was approved by someone else meanwhile` },
    });
    expect(await stored(proposal)).toMatchObject({ state: "approved", approvedBy: CAROL });
  });

  it("marks an approved proposal failed (409) when its run cannot start and has no record: its snapshot gone", async () => {
    // Prepare: the proposal's pinned snapshot version no longer in the bucket.
    const { proposal } = await proposalOf("snapshot-gone");
    const gone = proposal.snapshotName.replace(/versionId=.*$/, "versionId=v-gone");
    await h.store.updateProposal({ ...proposal, snapshotName: gone }, "open");

    // Act
    const refused = answer(await approve(proposal, BOB));

    // Assess
    const key = gone.replace(/^s3:\/\/[^/]+\//, "").replace(/\?.*$/, "");
    const why = `the request is not valid: snapshot: s3://${BUCKET}/${key}?versionId=v-gone does not exist (or is not readable)`;
    expect(refused).toEqual({
      http: 409,
      body: {
        message: `proposal ${proposal.proposalId} was approved, but its run could not start, so it failed: ${why}`,
      },
    });
    expect(await stored(proposal)).toMatchObject({ state: "failed", approvedBy: BOB, failure: why });
    expect(steps.callsOf(runIdOfProposal(proposal))).toEqual([]);
  });

  it("leaves approved (409) a proposal whose run cannot start but is recorded: its run id taken by other inputs", async () => {
    // Prepare: a run recorded under the proposal's run id, with another incident (as no runs POST may now record).
    const { proposal, preview } = await proposalOf("taken");
    const runId = runIdOfProposal(proposal);
    await h.store.createRun({ ...preview, runId, dryRun: false, status: "requested", incidentDigest: "0".repeat(64) });

    // Act
    const refused = answer(await approve(proposal, BOB));

    // Assess: the run that exists settles the proposal when it ends.
    const why = `request ${proposal.proposalId} started run ${runId} with another incident; use a new request id`;
    expect(refused).toEqual({
      http: 409,
      body: {
        message: `proposal ${proposal.proposalId} was approved, but its run could not start: ${why}. It stays approved: its run ${runId} exists, and settles it when it ends`,
      },
    });
    expect(await stored(proposal)).toMatchObject({ state: "approved", approvedBy: BOB });
    expect(steps.callsOf(runId)).toEqual([]);
  });

  it("answers 404 for an unknown proposal", async () => {
    const none = answer(
      await approveHandler(apiEvent("POST", APPROVE, { incidentId: "none", proposalId: "prop-none" }), lambdaContext),
    );
    expect(none).toEqual({ http: 404, body: { message: "incident none has no proposal prop-none" } });
  });
});
