import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { RefundStore } from "../../shared/store/refund-store";
import { storeFromEnvironment } from "../commons/environment";
import { json, problem } from "../commons/http/responses";
import { withPowertools } from "../commons/powertools/middleware";
import { metrics } from "../commons/powertools/powertools";

/**
 * The finance API's reads: `GET /incidents/{incidentId}/runs` (every run, newest first) and
 * `GET /incidents/{incidentId}/runs/{runId}` (one run: status, who, why, counts, totals, error).
 */
export async function readRuns(event: APIGatewayProxyEvent, store: RefundStore): Promise<APIGatewayProxyResult> {
  const incidentId = event.pathParameters?.incidentId ?? "";
  const runId = event.pathParameters?.runId;
  metrics.addMetric("RunReads", MetricUnit.Count, 1);
  if (runId === undefined) {
    const runs = await store.listRuns(incidentId);
    runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    return json(200, { incidentId, runs });
  }
  const run = await store.getRun(incidentId, runId);
  return run ? json(200, run) : problem(404, `incident ${incidentId} has no run ${runId}`);
}

let store: RefundStore | undefined;

async function storeOnce(): Promise<RefundStore> {
  store ??= storeFromEnvironment();
  return store;
}

export function makeHandler(getStore: () => Promise<RefundStore> = storeOnce) {
  return withPowertools(async (event: APIGatewayProxyEvent) => readRuns(event, await getStore()));
}

export const handler = makeHandler();
