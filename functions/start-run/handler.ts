import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { parseRunRequest, RunRequestError, type ValidRunRequest } from "../../shared/api/run-request";
import { reservedRequestIdProblem } from "../../shared/pipeline/rerun-policy";
import { principalOf } from "../commons/http/principal";
import { problem } from "../commons/http/responses";
import { withPowertools } from "../commons/powertools/middleware";
import { metrics } from "../commons/powertools/powertools";
import {
  canonicalJson,
  type StartRunDeps,
  startAnswer,
  startRequestedRun,
  startRunDepsFromEnvironment,
} from "./start-requested-run";

export { canonicalJson, type StartRunDeps };

/**
 * start-run, `POST /incidents/{incidentId}/runs`: validates the request with the shared zod schemas, then records
 * and starts the run (`startRequestedRun`: the snapshot pinned, the run recorded as requested, the execution
 * named by the run id started). The requester is the caller's IAM principal.
 */
export async function startRun(event: APIGatewayProxyEvent, deps: StartRunDeps): Promise<APIGatewayProxyResult> {
  const incidentId = event.pathParameters?.incidentId ?? "";
  metrics.addMetric("RunRequests", MetricUnit.Count, 1);
  let request: ValidRunRequest;
  try {
    request = parseRunRequest(incidentId, JSON.parse(event.body ?? ""));
  } catch (e) {
    if (e instanceof SyntaxError)
      return problem(400, "the request is not valid", ["(the body): must be a JSON object"]);
    if (e instanceof RunRequestError) return problem(400, "the request is not valid", e.problems);
    throw e;
  }
  const reserved = reservedRequestIdProblem(request.requestId);
  if (reserved) return problem(400, "the request is not valid", [reserved]);
  const { incident, incidentDocument, ...asked } = request;
  return startAnswer(
    await startRequestedRun(
      {
        ...asked,
        incidentId,
        incident,
        // Keys sorted: the same incident sent with its keys in another order is the same request.
        incidentText: canonicalJson(incidentDocument),
        requestedBy: principalOf(event) ?? "unknown",
      },
      deps,
    ),
  );
}

export function makeHandler(getDeps: () => Promise<StartRunDeps> = startRunDepsFromEnvironment) {
  return withPowertools(async (event: APIGatewayProxyEvent) => startRun(event, await getDeps()));
}

export const handler = makeHandler();
