import type { APIGatewayProxyEvent } from "aws-lambda";
import { beforeEach, describe, expect, it } from "vitest";
import { makeHandler, type StartRunDeps } from "../../../functions/start-run/handler";
import { ExecutionInputSchema } from "../../../shared/api/run-request";
import { runIdOf, sha256 } from "../../../shared/pipeline/run-context";
import { readRunIncident } from "../../../shared/pipeline/run-steps";
import type { RunRecord } from "../../../shared/store/refund-store";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { fakeStepFunctions, STATE_MACHINE } from "../../helpers/fake-step-functions";
import { BUCKET, lambdaContext, useHarness } from "../../helpers/pipeline-harness";

// One DynamoDB Local and one bucket for the file; each test has its own incident (so its own runs), request ids and
// snapshot, and a Step Functions of its own (so the executions and calls it counts are its own).
const h = useHarness();
let steps: ReturnType<typeof fakeStepFunctions>;
let deps: StartRunDeps;
let handler: ReturnType<typeof makeHandler>;
beforeEach(() => {
  steps = fakeStepFunctions();
  deps = {
    store: h.store,
    s3: h.s3.client,
    filesOf: h.deps().filesOf,
    sfn: steps.sfn,
    stateMachineArn: STATE_MACHINE,
    snapshotBucket: BUCKET,
  };
  handler = makeHandler(async () => deps);
});

/** A POST as API Gateway's Lambda proxy integration (REST API, IAM auth) delivers it. */
function post(body: unknown, incidentId: string): APIGatewayProxyEvent {
  return {
    resource: "/incidents/{incidentId}/runs",
    path: `/incidents/${incidentId}/runs`,
    httpMethod: "POST",
    headers: { "content-type": "application/json" },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { incidentId },
    stageVariables: null,
    isBase64Encoded: false,
    body: typeof body === "string" ? body : JSON.stringify(body),
    requestContext: {
      identity: { userArn: "arn:aws:iam::123456789012:user/finance", caller: "AIDAEXAMPLE" },
    } as never,
  };
}

/**
 * A test's own incident and request: its snapshot (`snapshots/<incidentId>/subs.csv`, one row) uploaded now, the
 * request's body with `extra` over it, and the run id the request names.
 */
function incidentOf(incidentId: string, requestId: string) {
  const snapshot = { bucket: BUCKET, key: `snapshots/${incidentId}/subs.csv` };
  const versionId = h.s3.put(BUCKET, snapshot.key, csvOf([row({}, 1)]));
  const request = (extra: Record<string, unknown> = {}) => ({
    requestId,
    incident: incidentDoc({ incidentId }),
    snapshot,
    reason: "sp-mode mail outage, first run",
    ...extra,
  });
  return {
    incidentId,
    runId: runIdOf(incidentId, requestId),
    snapshot: { ...snapshot, versionId },
    request,
    post: (extra: Record<string, unknown> = {}) => post(request(extra), incidentId),
  };
}

const answer = (result: { statusCode: number; body: string }) => ({
  http: result.statusCode,
  body: JSON.parse(result.body),
});

describe("start-run (POST /incidents/{incidentId}/runs)", () => {
  it("records the run as requested and starts one execution named by the run id, with the snapshot pinned", async () => {
    // Prepare
    const { runId, snapshot, ...asked } = incidentOf("test-incident", "finance-2011-12-22-001");

    // Act
    const first = answer(await handler(asked.post(), lambdaContext));

    // Assess
    expect(first).toEqual({
      http: 202,
      body: {
        runId,
        incidentId: "test-incident",
        status: "requested",
        created: true,
        links: { self: `/incidents/test-incident/runs/${runId}` },
      },
    });
    expect([...steps.executions.keys()]).toEqual([runId]);
    const input = ExecutionInputSchema.parse(JSON.parse(steps.executions.get(runId)?.input ?? "{}"));
    expect(input).toMatchObject({
      runId,
      requestedBy: "arn:aws:iam::123456789012:user/finance",
      dryRun: false,
      batchSize: 1000,
      snapshot: { bucket: BUCKET, key: "snapshots/test-incident/subs.csv", versionId: snapshot.versionId },
    });
    const run = await h.store.getRun("test-incident", runId);
    expect(run).toMatchObject({
      status: "requested",
      requestedBy: "arn:aws:iam::123456789012:user/finance",
      reason: "sp-mode mail outage, first run",
      snapshotName: `s3://${BUCKET}/snapshots/test-incident/subs.csv?versionId=${snapshot.versionId}`,
    });
  });

  it("passes an incident of ~300 KB by reference: left among the run's files, pinned by its digest, read by prepare", async () => {
    // Prepare: 3,000 windows make a valid incident of about 300 KB (an execution's input takes 256 KiB at most).
    const windows = Array.from({ length: 3_000 }, (_, i) => ({
      serviceCode: `SERVICE-${String(i).padStart(5, "0")}`,
      start: "2011-12-20T23:30:00+09:00",
      end: "2011-12-22T14:00:00+09:00",
    }));
    const big = incidentDoc({ incidentId: "big-incident", suspensions: windows, title: "大規模障害".repeat(40) });
    const { runId: bigRunId, ...asked } = incidentOf("big-incident", "req-big");
    expect(JSON.stringify(big).length).toBeGreaterThan(290_000);

    // Act
    const result = answer(await handler(asked.post({ incident: big }), lambdaContext));

    // Assess: the execution's input is small and names the incident by key and SHA-256; the object is the document.
    expect(result.http).toBe(202);
    const text = steps.executions.get(bigRunId)?.input ?? "";
    expect(Buffer.byteLength(text)).toBeLessThan(4_096);
    const input = ExecutionInputSchema.parse(JSON.parse(text));
    expect(input.incident).toEqual({
      bucket: BUCKET,
      key: `runs/big-incident/${bigRunId}/incident.json`,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const stored = h.s3.text(BUCKET, input.incident.key) ?? "";
    expect(sha256(stored)).toBe(input.incident.sha256);
    expect(JSON.parse(stored)).toEqual(big);
    // prepare reads it back through the same reference, and refuses it once changed under the run.
    const files = h.deps().filesOf(input);
    await expect(readRunIncident(files, input.incident.sha256)).resolves.toEqual(big);
    h.s3.put(BUCKET, input.incident.key, JSON.stringify({ ...big, title: "changed" }));
    await expect(readRunIncident(files, input.incident.sha256)).rejects.toMatchObject({
      name: "IncidentChangedError",
      message: expect.stringMatching(/^incident\.json: its SHA-256 is [0-9a-f]{64}, not [0-9a-f]{64} as the run/),
    });
  });

  it("called again with the same request (a retry), starts nothing new and answers 200 with the same run", async () => {
    // Prepare: the run started; then a new version of the snapshot is uploaded (a retry without a version means
    // the recorded one).
    const { incidentId, runId, snapshot, ...asked } = incidentOf("retried-incident", "finance-retried-001");
    expect(answer(await handler(asked.post(), lambdaContext)).http).toBe(202);
    const before = steps.callsOf(runId);
    h.s3.put(BUCKET, snapshot.key, csvOf([row({}, 1), row({}, 2)]));

    // Act
    const second = answer(await handler(asked.post(), lambdaContext));
    // The incident with its keys in another order is the same incident.
    const reordered = Object.fromEntries(Object.entries(incidentDoc({ incidentId })).reverse());
    const third = answer(await handler(asked.post({ incident: reordered }), lambdaContext));

    // Assess
    expect(second).toMatchObject({ http: 200, body: { runId, created: false, status: "requested" } });
    expect(third).toMatchObject({ http: 200, body: { runId, created: false } });
    // Each retry asks Step Functions again, by the same name with the same input: the one execution, not another.
    const calls = steps.callsOf(runId);
    expect(calls).toHaveLength(before.length + 2);
    expect(new Set(calls.map((c) => JSON.stringify(c))).size).toBe(1);
    expect([...steps.executions.keys()]).toEqual([runId]);
  });

  it("refuses the same request id with other inputs (409), naming what differs", async () => {
    // Prepare: the run started.
    const { runId, snapshot, ...asked } = incidentOf("mismatched-incident", "finance-mismatched-001");
    expect(answer(await handler(asked.post(), lambdaContext)).http).toBe(202);
    const newest = h.s3.put(BUCKET, snapshot.key, csvOf([row({}, 1), row({}, 3)]));

    // Act
    const other = answer(await handler(asked.post({ dryRun: true }), lambdaContext));
    const newer = answer(
      await handler(asked.post({ snapshot: { bucket: BUCKET, key: snapshot.key, versionId: newest } }), lambdaContext),
    );

    // Assess: refused before Step Functions is asked (the one call is the first request's).
    expect(other).toEqual({
      http: 409,
      body: {
        message: `request finance-mismatched-001 started run ${runId} with another dry-run flag; use a new request id`,
      },
    });
    expect(newer.body.message).toMatch(/with another snapshot; use a new request id$/);
    expect([...steps.executions.keys()]).toEqual([runId]);
    expect(steps.calls).toHaveLength(1);
  });

  it("answers 400 with every problem named by its field, and starts nothing", async () => {
    // Prepare
    const { request, ...asked } = incidentOf("invalid-incident", "finance-invalid-001");

    // Act
    const bad = answer(
      await handler(
        asked.post({
          requestId: "no spaces",
          reason: " ",
          incident: { ...incidentDoc({ incidentId: "invalid-incident" }), timeZone: "Mars/Olympus" },
        }),
        lambdaContext,
      ),
    );
    const notJson = answer(await handler(post("{not json", "invalid-incident"), lambdaContext));
    const otherIncident = answer(await handler(post(request(), "another-incident"), lambdaContext));
    const huge = { ...incidentDoc({ incidentId: "invalid-incident" }), title: "x".repeat(1 << 20) };
    const tooLarge = answer(await handler(asked.post({ incident: huge }), lambdaContext));

    // Assess
    expect(bad.http).toBe(400);
    expect(bad.body.message).toBe("the request is not valid");
    expect(bad.body.problems).toEqual([
      "requestId: must be 1 to 128 letters, digits or . _ : -",
      "reason: is required",
      expect.stringMatching(/^incident\.timeZone: /),
    ]);
    expect(notJson).toEqual({
      http: 400,
      body: { message: "the request is not valid", problems: ["(the body): must be a JSON object"] },
    });
    expect(otherIncident.body.problems).toEqual([
      'incident.incidentId: is "invalid-incident", but the path names "another-incident"',
    ]);
    expect(tooLarge.body.problems).toEqual([
      "incident: is larger than 1 MiB (1,048,576 bytes), the most an incident may hold (as JSON)",
    ]);
    expect(steps.calls).toEqual([]);
    expect(await h.store.listRuns("invalid-incident")).toEqual([]);
    expect(await h.store.listRuns("another-incident")).toEqual([]);
  });

  it('starts a run of an incident with contract v2 scope (where, goodwill scope "active"), as of any other', async () => {
    // Prepare
    const window = { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" };
    const scoped = incidentDoc({
      incidentId: "test-incident-v2",
      suspensions: [{ ...window, where: { plan: ["voice-only"] } }] as never,
      goodwill: { amount: 200, currency: "JPY", scope: "active" } as never,
    });
    const { runId, ...asked } = incidentOf("test-incident-v2", "finance-v2-scope");

    // Act
    const started = answer(await handler(asked.post({ incident: scoped }), lambdaContext));

    // Assess
    expect(started.http).toBe(202);
    expect([...steps.executions.keys()]).toEqual([runId]);
  });

  it("answers 400 for a snapshot that does not exist or is outside the snapshot bucket", async () => {
    // Prepare
    const asked = incidentOf("unreadable-snapshot-incident", "r-1");

    // Act
    const missing = answer(
      await handler(
        asked.post({ requestId: "r-2", snapshot: { bucket: BUCKET, key: "snapshots/none.csv" } }),
        lambdaContext,
      ),
    );
    const elsewhere = answer(
      await handler(
        asked.post({ requestId: "r-3", snapshot: { bucket: "someone-elses", key: "x.csv" } }),
        lambdaContext,
      ),
    );
    const runFiles = answer(
      await handler(
        asked.post({ requestId: "r-4", snapshot: { bucket: BUCKET, key: "runs/x/manifest.csv" } }),
        lambdaContext,
      ),
    );

    // Assess: nothing recorded, nothing started.
    expect(missing).toEqual({
      http: 400,
      body: {
        message: "the request is not valid",
        problems: [`snapshot: s3://${BUCKET}/snapshots/none.csv does not exist (or is not readable)`],
      },
    });
    expect(elsewhere.body.problems).toEqual([
      `snapshot.bucket: must be ${BUCKET}, the bucket hiwari reads snapshots from`,
    ]);
    expect(runFiles.body.problems).toEqual([
      "snapshot.key: must start with snapshots/ (where the run bucket keeps snapshots)",
    ]);
    expect(await h.store.listRuns("unreadable-snapshot-incident")).toEqual([]);
    expect(steps.calls).toEqual([]);
  });

  it("answers a completed run's retry with 200 and its status, and a failed one's with 409 and its error", async () => {
    // Prepare: the run started.
    const { incidentId, runId, snapshot, ...asked } = incidentOf("settled-incident", "finance-settled-001");
    expect(answer(await handler(asked.post(), lambdaContext)).http).toBe(202);
    const run = (await h.store.getRun(incidentId, runId)) as RunRecord;
    const calls = steps.calls.length;

    // Act
    await h.store.putRun({ ...run, status: "completed", snapshotDigest: "d" });
    const done = answer(await handler(asked.post({ snapshot }), lambdaContext));
    await h.store.putRun({ ...run, status: "failed", error: "RunLockedError: incident held" });
    const failed = answer(await handler(asked.post({ snapshot }), lambdaContext));

    // Assess
    expect(done).toMatchObject({ http: 200, body: { status: "completed", created: false } });
    expect(failed.http).toBe(409);
    expect(failed.body.message).toMatch(
      /^run run-[0-9a-f]{20} failed: RunLockedError: incident held\. Fix the cause and send a new request id/,
    );
    // Neither answer started an execution, nor asked Step Functions for one.
    expect([...steps.executions.keys()]).toEqual([runId]);
    expect(steps.calls).toHaveLength(calls);
  });
});

describe("start-run where the stage requires a proposal for reruns (requireProposalForReruns)", () => {
  it("prod (on): starts a first run, a dry run and a retry, but refuses a rerun (409, not IAM's 403) saying to propose and approve", async () => {
    // Prepare
    const { incidentId, runId: firstRunId, ...asked } = incidentOf("rerun-incident", "first");
    const prod = makeHandler(async () => ({ ...deps, requireProposalForReruns: true }));

    // Act
    const first = answer(await prod(asked.post(), lambdaContext));
    const preview = answer(await prod(asked.post({ requestId: "preview", dryRun: true }), lambdaContext));
    const retry = answer(await prod(asked.post(), lambdaContext));
    const rerun = answer(await prod(asked.post({ requestId: "second" }), lambdaContext));

    // Assess
    expect([first.http, preview.http, retry.http]).toEqual([202, 202, 200]);
    expect(rerun).toEqual({
      http: 409,
      body: {
        message:
          `incident rerun-incident has a run that writes lines already (${firstRunId}): here a ` +
          "rerun needs four eyes. Send it as a dry run (dryRun: true), propose that preview (POST " +
          "/incidents/rerun-incident/proposals with its previewRunId and a reason), and have another person approve " +
          "it (POST /incidents/rerun-incident/proposals/{proposalId}/approve)",
      },
    });
    const started = [firstRunId, runIdOf(incidentId, "preview")].sort();
    expect([...steps.executions.keys()].sort()).toEqual(started);
    expect((await h.store.listRuns(incidentId)).map((r) => r.runId).sort()).toEqual(started);
  });

  it("refuses (400) a request id of a proposal's form: a proposal's run is requested by its approval", async () => {
    // Prepare
    const asked = incidentOf("reserved-id-incident", "prop-0123456789abcdef0123");
    const prod = makeHandler(async () => ({ ...deps, requireProposalForReruns: true }));

    // Act
    const taken = answer(await prod(asked.post(), lambdaContext));

    // Assess
    expect(taken).toEqual({
      http: 400,
      body: {
        message: "the request is not valid",
        problems: ["requestId: must not start with prop- (a proposal's run is requested by its approval)"],
      },
    });
  });

  it("dev (off): starts the same rerun", async () => {
    // Prepare: the incident has a run that writes lines, as in prod above.
    const { incidentId, runId: firstRunId, ...asked } = incidentOf("rerun-incident-dev", "first");
    const dev = makeHandler(async () => ({ ...deps, requireProposalForReruns: false }));
    expect(answer(await dev(asked.post(), lambdaContext)).http).toBe(202);

    // Act
    const rerun = answer(await dev(asked.post({ requestId: "second" }), lambdaContext));

    // Assess
    expect(rerun).toMatchObject({ http: 202, body: { runId: runIdOf(incidentId, "second"), created: true } });
    expect([...steps.executions.keys()].sort()).toEqual([firstRunId, runIdOf(incidentId, "second")].sort());
  });
});
