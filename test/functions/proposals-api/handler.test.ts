import { describe, expect, it } from "vitest";
import { makeHandler } from "../../../functions/proposals-api/handler";
import type { RunRecord } from "../../../shared/store/refund-store";
import { ALICE, answer, apiEvent, BOB } from "../../helpers/api-events";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { BUCKET, executionInput, lambdaContext, runThrough, useHarness } from "../../helpers/pipeline-harness";

const h = useHarness();
const handler = makeHandler(async () => h.store);
const INCIDENT = "proposals-incident";
const PROPOSALS = "/incidents/{incidentId}/proposals";

/** A run through the pipeline's handlers, as an execution would: `dryRun` for a preview. */
async function runOf(requestId: string, rows: ReturnType<typeof row>[], dryRun: boolean): Promise<RunRecord> {
  const version = h.s3.put(BUCKET, `snapshots/${requestId}.csv`, csvOf(rows));
  const input = executionInput(
    h,
    incidentDoc({ incidentId: INCIDENT }),
    { key: `snapshots/${requestId}.csv`, versionId: version },
    { requestId, dryRun },
  );
  await runThrough(h, h.deps, input);
  return (await h.store.getRun(INCIDENT, input.runId)) as RunRecord;
}

const propose = (body: unknown, userArn: string | null = ALICE) =>
  handler(apiEvent("POST", PROPOSALS, { incidentId: INCIDENT }, { body, userArn }), lambdaContext);

describe("proposals-api (POST and GET /incidents/{incidentId}/proposals[/{proposalId}])", () => {
  let first: RunRecord;
  let preview: RunRecord;

  it("proposes a completed preview as the caller's IAM principal, whatever name the body gives (201)", async () => {
    // Prepare: a first run, then a preview of a corrected snapshot.
    first = await runOf("first", [row({}, 1), row({}, 2)], false);
    preview = await runOf("preview", [row({}, 1), row({ monthly_fee: "310" }, 2), row({}, 3)], true);

    // Act: the body claims to be Bob.
    const made = answer(
      await propose({ previewRunId: preview.runId, reason: "C-2's fee was wrong", proposedBy: BOB, by: BOB }),
    );

    // Assess
    expect(made).toEqual({
      http: 201,
      body: {
        incidentId: INCIDENT,
        proposalId: `prop-${preview.runId.slice(4)}`,
        state: "open",
        proposedBy: ALICE,
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
    expect(await h.store.getProposal(INCIDENT, made.body.proposalId)).toEqual(made.body);
  });

  it("takes the principal's `caller` when API Gateway gives no userArn", async () => {
    const other = await runOf("preview-2", [row({}, 1), row({}, 2)], true);
    const made = answer(await propose({ previewRunId: other.runId, reason: "no change" }, null));
    expect(made).toMatchObject({ http: 201, body: { proposedBy: "AIDAEXAMPLE" } });
  });

  it("refuses: an unknown run 404, a writing run or one proposed already 409, a bad body 400", async () => {
    const unknown = `run-${"0".repeat(20)}`;
    expect(answer(await propose({ previewRunId: unknown, reason: "r" }))).toEqual({
      http: 404,
      body: { message: `incident ${INCIDENT} has no run ${unknown}` },
    });
    expect(answer(await propose({ previewRunId: first.runId, reason: "r" }))).toEqual({
      http: 409,
      body: { message: `run ${first.runId} is not a completed preview (a dry run): it cannot be proposed` },
    });
    expect(answer(await propose({ previewRunId: preview.runId, reason: "again" }))).toEqual({
      http: 409,
      body: { message: `proposal prop-${preview.runId.slice(4)} of run ${preview.runId} exists already` },
    });
    expect(answer(await propose({ previewRunId: "run-x", reason: " " }))).toEqual({
      http: 400,
      body: {
        message: "the request is not valid",
        problems: ["previewRunId: must be a run id (run- and 20 hex digits)", "reason: is required"],
      },
    });
    expect(answer(await propose("{not json"))).toEqual({
      http: 400,
      body: { message: "the request is not valid", problems: ["(the body): must be a JSON object"] },
    });
  });

  it("refuses a preview that a writing run came after (409): it no longer says what applying it would do", async () => {
    const stale = await runOf("preview-3", [row({}, 1)], true);
    const later = await runOf("second", [row({}, 1), row({}, 2)], false);
    expect(answer(await propose({ previewRunId: stale.runId, reason: "r" }))).toEqual({
      http: 409,
      body: {
        message: `run ${later.runId} started after the preview ${stale.runId}: the preview no longer says what applying it would do; preview again`,
      },
    });
  });

  it("lists an incident's proposals, oldest first, and answers one or 404", async () => {
    const list = answer(await handler(apiEvent("GET", PROPOSALS, { incidentId: INCIDENT }), lambdaContext));
    expect(list.http).toBe(200);
    expect(list.body.proposals.map((p: { proposedBy: string }) => p.proposedBy)).toEqual([ALICE, "AIDAEXAMPLE"]);
    const id = list.body.proposals[0].proposalId as string;
    const one = answer(
      await handler(
        apiEvent("GET", `${PROPOSALS}/{proposalId}`, { incidentId: INCIDENT, proposalId: id }),
        lambdaContext,
      ),
    );
    expect(one).toEqual({ http: 200, body: list.body.proposals[0] });
    const none = answer(
      await handler(
        apiEvent("GET", `${PROPOSALS}/{proposalId}`, { incidentId: INCIDENT, proposalId: "prop-none" }),
        lambdaContext,
      ),
    );
    expect(none).toEqual({ http: 404, body: { message: `incident ${INCIDENT} has no proposal prop-none` } });
    const empty = answer(await handler(apiEvent("GET", PROPOSALS, { incidentId: "other" }), lambdaContext));
    expect(empty).toEqual({ http: 200, body: { incidentId: "other", proposals: [] } });
  });
});
