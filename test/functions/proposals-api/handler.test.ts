import { describe, expect, it } from "vitest";
import { makeHandler } from "../../../functions/proposals-api/handler";
import type { RunRecord } from "../../../shared/store/refund-store";
import { ALICE, answer, apiEvent, BOB } from "../../helpers/api-events";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { BUCKET, executionInput, lambdaContext, runThrough, useHarness } from "../../helpers/pipeline-harness";

const h = useHarness();
const handler = makeHandler(async () => h.store);
const PROPOSALS = "/incidents/{incidentId}/proposals";
const FINANCE = "arn:aws:iam::123456789012:user/finance"; // who runs the runs (executionInput's requestedBy)

/** A run of `incidentId` through the pipeline's handlers, as an execution would: `dryRun` for a preview. */
async function runOf(
  incidentId: string,
  requestId: string,
  rows: ReturnType<typeof row>[],
  dryRun: boolean,
): Promise<RunRecord> {
  const key = `snapshots/${incidentId}/${requestId}.csv`;
  const version = h.s3.put(BUCKET, key, csvOf(rows));
  const input = executionInput(h, incidentDoc({ incidentId }), { key, versionId: version }, { requestId, dryRun });
  await runThrough(h, h.deps, input);
  return (await h.store.getRun(incidentId, input.runId)) as RunRecord;
}

/** An incident's first run, then a preview of a corrected snapshot (C-2's fee, a new C-3). */
async function incidentWithPreview(incidentId: string): Promise<{ first: RunRecord; preview: RunRecord }> {
  const first = await runOf(incidentId, "first", [row({}, 1), row({}, 2)], false);
  const preview = await runOf(incidentId, "preview", [row({}, 1), row({ monthly_fee: "310" }, 2), row({}, 3)], true);
  return { first, preview };
}

const propose = (incidentId: string, body: unknown, userArn: string | null = ALICE) =>
  handler(apiEvent("POST", PROPOSALS, { incidentId }, { body, userArn }), lambdaContext);

describe("proposals-api (POST and GET /incidents/{incidentId}/proposals[/{proposalId}])", () => {
  it("proposes a completed preview as the caller's IAM principal, whatever name the body gives (201)", async () => {
    // Prepare: a first run, then a preview of a corrected snapshot.
    const { first, preview } = await incidentWithPreview("proposed");

    // Act: the body claims to be Bob.
    const made = answer(
      await propose("proposed", {
        previewRunId: preview.runId,
        reason: "C-2's fee was wrong",
        proposedBy: BOB,
        by: BOB,
      }),
    );

    // Assess
    expect(made).toEqual({
      http: 201,
      body: {
        incidentId: "proposed",
        proposalId: `prop-${preview.runId.slice(4)}`,
        state: "open",
        proposedBy: ALICE,
        previewBy: FINANCE,
        reason: "C-2's fee was wrong",
        proposedAt: expect.any(String),
        previewRunId: preview.runId,
        baseRunId: first.runId,
        writers: [`${first.runId} completed ${first.completedAt}`],
        incidentDigest: preview.incidentDigest,
        snapshotName: preview.snapshotName,
        snapshotDigest: preview.snapshotDigest,
        counts: preview.counts,
        totals: preview.totals,
      },
    });
    expect(made.body.counts).toMatchObject({ calculated: 1, adjusted: 1, unchanged: 1 });
    expect(await h.store.getProposal("proposed", made.body.proposalId)).toEqual(made.body);
  });

  it("takes the principal's `caller` when API Gateway gives no userArn", async () => {
    const preview = await runOf("caller", "preview", [row({}, 1), row({}, 2)], true);
    const made = answer(await propose("caller", { previewRunId: preview.runId, reason: "no change" }, null));
    expect(made).toMatchObject({ http: 201, body: { proposedBy: "AIDAEXAMPLE" } });
  });

  it("refuses: an unknown run 404, a writing run or one proposed already 409, a bad body 400", async () => {
    // Prepare: a preview proposed once.
    const { first, preview } = await incidentWithPreview("refusals");
    expect((await propose("refusals", { previewRunId: preview.runId, reason: "r" })).statusCode).toBe(201);
    const unknown = `run-${"0".repeat(20)}`;

    // Act and assess
    expect(answer(await propose("refusals", { previewRunId: unknown, reason: "r" }))).toEqual({
      http: 404,
      body: { message: `incident refusals has no run ${unknown}` },
    });
    expect(answer(await propose("refusals", { previewRunId: first.runId, reason: "r" }))).toEqual({
      http: 409,
      body: { message: `run ${first.runId} is not a completed preview (a dry run): it cannot be proposed` },
    });
    expect(answer(await propose("refusals", { previewRunId: preview.runId, reason: "again" }))).toEqual({
      http: 409,
      body: { message: `proposal prop-${preview.runId.slice(4)} of run ${preview.runId} exists already` },
    });
    expect(answer(await propose("refusals", { previewRunId: "run-x", reason: " " }))).toEqual({
      http: 400,
      body: {
        message: "the request is not valid",
        problems: ["previewRunId: must be a run id (run- and 20 hex digits)", "reason: is required"],
      },
    });
    expect(answer(await propose("refusals", "{not json"))).toEqual({
      http: 400,
      body: { message: "the request is not valid", problems: ["(the body): must be a JSON object"] },
    });
  });

  it("refuses a preview that a writing run came after (409): it no longer says what applying it would do", async () => {
    const stale = await runOf("stale", "preview", [row({}, 1)], true);
    const later = await runOf("stale", "second", [row({}, 1), row({}, 2)], false);
    expect(answer(await propose("stale", { previewRunId: stale.runId, reason: "r" }))).toEqual({
      http: 409,
      body: {
        message: `run ${later.runId} started after the preview ${stale.runId}: the preview no longer says what applying it would do; preview again`,
      },
    });
  });

  it("lists an incident's proposals, oldest first, and answers one or 404", async () => {
    // Prepare: two previews of one incident, proposed by Alice, then by the caller id alone.
    const { preview } = await incidentWithPreview("listed");
    const other = await runOf("listed", "preview-2", [row({}, 1), row({}, 2)], true);
    expect((await propose("listed", { previewRunId: preview.runId, reason: "r" })).statusCode).toBe(201);
    expect((await propose("listed", { previewRunId: other.runId, reason: "r" }, null)).statusCode).toBe(201);
    const get = (pathParameters: Record<string, string>, resource = PROPOSALS) =>
      handler(apiEvent("GET", resource, pathParameters), lambdaContext);

    // Act
    const list = answer(await get({ incidentId: "listed" }));
    const id = list.body.proposals[0].proposalId as string;
    const one = answer(await get({ incidentId: "listed", proposalId: id }, `${PROPOSALS}/{proposalId}`));
    const none = answer(await get({ incidentId: "listed", proposalId: "prop-none" }, `${PROPOSALS}/{proposalId}`));
    const empty = answer(await get({ incidentId: "other" }));

    // Assess
    expect(list.http).toBe(200);
    expect(list.body.proposals.map((p: { proposedBy: string }) => p.proposedBy)).toEqual([ALICE, "AIDAEXAMPLE"]);
    expect(one).toEqual({ http: 200, body: list.body.proposals[0] });
    expect(none).toEqual({ http: 404, body: { message: "incident listed has no proposal prop-none" } });
    expect(empty).toEqual({ http: 200, body: { incidentId: "other", proposals: [] } });
  });
});
