import type { APIGatewayProxyEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { makeHandler } from "../../../functions/runs-api/handler";
import type { RunRecord } from "../../../shared/store/refund-store";
import { lambdaContext, useHarness } from "../../helpers/pipeline-harness";

const h = useHarness();

const get = (pathParameters: Record<string, string>): APIGatewayProxyEvent =>
  ({
    httpMethod: "GET",
    resource: pathParameters.runId ? "/incidents/{incidentId}/runs/{runId}" : "/incidents/{incidentId}/runs",
    pathParameters,
    body: null,
  }) as unknown as APIGatewayProxyEvent;

const runRecord = (runId: string, startedAt: string): RunRecord => ({
  incidentId: "inc",
  runId,
  requestedBy: "arn:aws:iam::123456789012:user/finance",
  reason: "r",
  dryRun: false,
  status: "completed",
  startedAt,
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  incidentDigest: "i",
  snapshotDigest: "s",
  snapshotName: "s3://b/k",
  batchSize: 1000,
  totals: [{ serviceCode: "IMADOKO", currency: "JPY", lines: 2, amount: "98765432109876543210" }],
});

describe("runs-api (GET /incidents/{incidentId}/runs[/{runId}])", () => {
  it("lists an incident's runs newest first, amounts exact, and answers one run or 404", async () => {
    await h.store.putRun(runRecord("run-a", "2011-12-22T10:00:00.000Z"));
    await h.store.putRun(runRecord("run-b", "2011-12-23T10:00:00.000Z"));
    const handler = makeHandler(async () => h.store);
    const list = await handler(get({ incidentId: "inc" }), lambdaContext);
    expect(list.statusCode).toBe(200);
    const body = JSON.parse(list.body);
    expect(body.runs.map((r: RunRecord) => r.runId)).toEqual(["run-b", "run-a"]);
    expect(body.runs[0].totals[0].amount).toBe("98765432109876543210");

    const one = await handler(get({ incidentId: "inc", runId: "run-a" }), lambdaContext);
    expect(JSON.parse(one.body)).toEqual(runRecord("run-a", "2011-12-22T10:00:00.000Z"));
    const none = await handler(get({ incidentId: "inc", runId: "run-x" }), lambdaContext);
    expect({ status: none.statusCode, body: JSON.parse(none.body) }).toEqual({
      status: 404,
      body: { message: "incident inc has no run run-x" },
    });
    const empty = await handler(get({ incidentId: "other" }), lambdaContext);
    expect(JSON.parse(empty.body)).toEqual({ incidentId: "other", runs: [] });
  });
});
