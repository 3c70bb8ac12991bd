import type { APIGatewayProxyEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeHandler, type StartRunDeps } from "../../../functions/start-run/handler";
import { ExecutionInputSchema } from "../../../shared/api/run-request";
import { runIdOf, sha256 } from "../../../shared/pipeline/run-context";
import { readRunIncident } from "../../../shared/pipeline/run-steps";
import type { RunRecord } from "../../../shared/store/refund-store";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { fakeStepFunctions, STATE_MACHINE } from "../../helpers/fake-step-functions";
import { BUCKET, type Harness, lambdaContext, startHarness } from "../../helpers/pipeline-harness";

let h: Harness;
let steps: ReturnType<typeof fakeStepFunctions>;
let deps: StartRunDeps;
let handler: ReturnType<typeof makeHandler>;
let snapshotVersion: string;
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
  };
  handler = makeHandler(async () => deps);
  snapshotVersion = h.s3.put(BUCKET, "snapshots/2011-12/subs.csv", csvOf([row({}, 1)]));
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

/** A POST as API Gateway's Lambda proxy integration (REST API, IAM auth) delivers it. */
function post(body: unknown, incidentId = "test-incident"): APIGatewayProxyEvent {
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

const request = (extra: Record<string, unknown> = {}) => ({
  requestId: "finance-2011-12-22-001",
  incident: incidentDoc(),
  snapshot: { bucket: BUCKET, key: "snapshots/2011-12/subs.csv" },
  reason: "sp-mode mail outage, first run",
  ...extra,
});

const answer = (result: { statusCode: number; body: string }) => ({
  http: result.statusCode,
  body: JSON.parse(result.body),
});

describe("start-run (POST /incidents/{incidentId}/runs)", () => {
  const runId = runIdOf("test-incident", "finance-2011-12-22-001");

  it("records the run as requested and starts one execution named by the run id, with the snapshot pinned", async () => {
    const first = answer(await handler(post(request()), lambdaContext));
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
      snapshot: { bucket: BUCKET, key: "snapshots/2011-12/subs.csv", versionId: snapshotVersion },
    });
    const run = await h.store.getRun("test-incident", runId);
    expect(run).toMatchObject({
      status: "requested",
      requestedBy: "arn:aws:iam::123456789012:user/finance",
      reason: "sp-mode mail outage, first run",
      snapshotName: `s3://${BUCKET}/snapshots/2011-12/subs.csv?versionId=${snapshotVersion}`,
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
    const bigRunId = runIdOf("big-incident", "req-big");
    expect(JSON.stringify(big).length).toBeGreaterThan(290_000);

    const own = fakeStepFunctions();
    const bigHandler = makeHandler(async () => ({ ...deps, sfn: own.sfn }));

    // Act
    const result = answer(
      await bigHandler(post(request({ requestId: "req-big", incident: big }), "big-incident"), lambdaContext),
    );

    // Assess: the execution's input is small and names the incident by key and SHA-256; the object is the document.
    expect(result.http).toBe(202);
    const text = own.executions.get(bigRunId)?.input ?? "";
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
    // Even after a new version of the snapshot is uploaded: a retry without a version means the recorded one.
    const before = steps.callsOf(runId);
    h.s3.put(BUCKET, "snapshots/2011-12/subs.csv", csvOf([row({}, 1), row({}, 2)]));
    const second = answer(await handler(post(request()), lambdaContext));
    expect(second).toMatchObject({ http: 200, body: { runId, created: false, status: "requested" } });
    // The incident with its keys in another order is the same incident.
    const reordered = Object.fromEntries(Object.entries(incidentDoc()).reverse());
    const third = answer(await handler(post(request({ incident: reordered })), lambdaContext));
    expect(third).toMatchObject({ http: 200, body: { runId, created: false } });
    // Each retry asks Step Functions again, by the same name with the same input: the one execution, not another.
    const calls = steps.callsOf(runId);
    expect(calls).toHaveLength(before.length + 2);
    expect(new Set(calls.map((c) => JSON.stringify(c))).size).toBe(1);
  });

  it("refuses the same request id with other inputs (409), naming what differs", async () => {
    const other = answer(await handler(post(request({ dryRun: true })), lambdaContext));
    expect(other).toEqual({
      http: 409,
      body: {
        message: `request finance-2011-12-22-001 started run ${runId} with another dry-run flag; use a new request id`,
      },
    });
    const newest = h.s3.put(BUCKET, "snapshots/2011-12/subs.csv", csvOf([row({}, 1), row({}, 3)]));
    const newer = answer(
      await handler(
        post(request({ snapshot: { bucket: BUCKET, key: "snapshots/2011-12/subs.csv", versionId: newest } })),
        lambdaContext,
      ),
    );
    expect(newer.body.message).toMatch(/with another snapshot; use a new request id$/);
    expect(steps.executions.size).toBe(1);
  });

  it("answers 400 with every problem named by its field, and starts nothing", async () => {
    const bad = answer(
      await handler(
        post({
          ...request(),
          requestId: "no spaces",
          reason: " ",
          incident: { ...incidentDoc(), timeZone: "Mars/Olympus" },
        }),
        lambdaContext,
      ),
    );
    expect(bad.http).toBe(400);
    expect(bad.body.message).toBe("the request is not valid");
    expect(bad.body.problems).toEqual([
      "requestId: must be 1 to 128 letters, digits or . _ : -",
      "reason: is required",
      expect.stringMatching(/^incident\.timeZone: /),
    ]);
    expect(answer(await handler(post("{not json"), lambdaContext))).toEqual({
      http: 400,
      body: { message: "the request is not valid", problems: ["(the body): must be a JSON object"] },
    });
    const otherIncident = answer(await handler(post(request(), "another-incident"), lambdaContext));
    expect(otherIncident.body.problems).toEqual([
      'incident.incidentId: is "test-incident", but the path names "another-incident"',
    ]);
    const huge = { ...incidentDoc(), title: "x".repeat(1 << 20) };
    expect(answer(await handler(post({ ...request(), incident: huge }), lambdaContext)).body.problems).toEqual([
      "incident: is larger than 1 MiB (1,048,576 bytes), the most an incident may hold (as JSON)",
    ]);
    expect(steps.executions.size).toBe(1);
  });

  it('starts a run of an incident with contract v2 scope (where, goodwill scope "active"), as of any other', async () => {
    const before = steps.executions.size;
    const window = { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" };
    const scoped = incidentDoc({
      incidentId: "test-incident-v2",
      suspensions: [{ ...window, where: { plan: ["voice-only"] } }] as never,
      goodwill: { amount: 200, currency: "JPY", scope: "active" } as never,
    });
    const started = answer(
      await handler(
        post(request({ requestId: "finance-v2-scope", incident: scoped }), "test-incident-v2"),
        lambdaContext,
      ),
    );
    expect(started.http).toBe(202);
    expect(steps.executions.size).toBe(before + 1);
  });

  it("answers 400 for a snapshot that does not exist or is outside the snapshot bucket", async () => {
    const missing = answer(
      await handler(
        post(request({ requestId: "r-2", snapshot: { bucket: BUCKET, key: "snapshots/none.csv" } })),
        lambdaContext,
      ),
    );
    expect(missing).toEqual({
      http: 400,
      body: {
        message: "the request is not valid",
        problems: [`snapshot: s3://${BUCKET}/snapshots/none.csv does not exist (or is not readable)`],
      },
    });
    const elsewhere = answer(
      await handler(
        post(request({ requestId: "r-3", snapshot: { bucket: "someone-elses", key: "x.csv" } })),
        lambdaContext,
      ),
    );
    expect(elsewhere.body.problems).toEqual([
      `snapshot.bucket: must be ${BUCKET}, the bucket hiwari reads snapshots from`,
    ]);
    const runFiles = answer(
      await handler(
        post(request({ requestId: "r-4", snapshot: { bucket: BUCKET, key: "runs/x/manifest.csv" } })),
        lambdaContext,
      ),
    );
    expect(runFiles.body.problems).toEqual([
      "snapshot.key: must start with snapshots/ (where the run bucket keeps snapshots)",
    ]);
    expect(await h.store.listRuns("test-incident")).toHaveLength(1);
  });

  it("answers a completed run's retry with 200 and its status, and a failed one's with 409 and its error", async () => {
    const executions = steps.executions.size;
    const run = (await h.store.getRun("test-incident", runId)) as RunRecord;
    await h.store.putRun({ ...run, status: "completed", snapshotDigest: "d" });
    const done = answer(
      await handler(
        post(request({ snapshot: { bucket: BUCKET, key: "snapshots/2011-12/subs.csv", versionId: snapshotVersion } })),
        lambdaContext,
      ),
    );
    expect(done).toMatchObject({ http: 200, body: { status: "completed", created: false } });
    await h.store.putRun({ ...run, status: "failed", error: "RunLockedError: incident held" });
    const failed = answer(
      await handler(
        post(request({ snapshot: { bucket: BUCKET, key: "snapshots/2011-12/subs.csv", versionId: snapshotVersion } })),
        lambdaContext,
      ),
    );
    expect(failed.http).toBe(409);
    expect(failed.body.message).toMatch(
      /^run run-[0-9a-f]{20} failed: RunLockedError: incident held\. Fix the cause and send a new request id/,
    );
    expect(steps.executions.size).toBe(executions); // neither answer started an execution
  });
});

describe("start-run where the stage requires a proposal for reruns (requireProposalForReruns)", () => {
  const incidentId = "rerun-incident";
  const rerunRequest = (requestId: string, extra: Record<string, unknown> = {}) =>
    request({ requestId, incident: incidentDoc({ incidentId }), ...extra });

  it("prod (on): starts a first run, a dry run and a retry, but refuses a rerun (409, not IAM's 403) saying to propose and approve", async () => {
    // Prepare
    const prod = makeHandler(async () => ({ ...deps, requireProposalForReruns: true }));
    const before = steps.executions.size;

    // Act
    const first = answer(await prod(post(rerunRequest("first"), incidentId), lambdaContext));
    const preview = answer(await prod(post(rerunRequest("preview", { dryRun: true }), incidentId), lambdaContext));
    const retry = answer(await prod(post(rerunRequest("first"), incidentId), lambdaContext));
    const rerun = answer(await prod(post(rerunRequest("second"), incidentId), lambdaContext));

    // Assess
    expect([first.http, preview.http, retry.http]).toEqual([202, 202, 200]);
    expect(rerun).toEqual({
      http: 409,
      body: {
        message:
          `incident rerun-incident has a run that writes lines already (${runIdOf(incidentId, "first")}): here a ` +
          "rerun needs four eyes. Send it as a dry run (dryRun: true), propose that preview (POST " +
          "/incidents/rerun-incident/proposals with its previewRunId and a reason), and have another person approve " +
          "it (POST /incidents/rerun-incident/proposals/{proposalId}/approve)",
      },
    });
    expect(steps.executions.size).toBe(before + 2);
    expect((await h.store.listRuns(incidentId)).map((r) => r.runId).sort()).toEqual(
      [runIdOf(incidentId, "first"), runIdOf(incidentId, "preview")].sort(),
    );
  });

  it("refuses (400) a request id of a proposal's form: a proposal's run is requested by its approval", async () => {
    const prod = makeHandler(async () => ({ ...deps, requireProposalForReruns: true }));
    const taken = answer(await prod(post(rerunRequest("prop-0123456789abcdef0123"), incidentId), lambdaContext));
    expect(taken).toEqual({
      http: 400,
      body: {
        message: "the request is not valid",
        problems: ["requestId: must not start with prop- (a proposal's run is requested by its approval)"],
      },
    });
  });

  it("dev (off): starts the same rerun", async () => {
    const dev = makeHandler(async () => ({ ...deps, requireProposalForReruns: false }));
    const rerun = answer(await dev(post(rerunRequest("second"), incidentId), lambdaContext));
    expect(rerun).toMatchObject({ http: 202, body: { runId: runIdOf(incidentId, "second"), created: true } });
  });
});
