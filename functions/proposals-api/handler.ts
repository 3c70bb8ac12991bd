import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { ProposalRequestError, parseProposalRequest } from "../../shared/api/proposal-request";
import { ProposalRefusedError, type ProposalStore, proposalOfPreview } from "../../shared/pipeline/proposal";
import type { RefundStore } from "../../shared/store/refund-store";
import { storeFromEnvironment } from "../commons/environment";
import { principalOf } from "../commons/http/principal";
import { refused } from "../commons/http/refusals";
import { json, problem } from "../commons/http/responses";
import { withPowertools } from "../commons/powertools/middleware";
import { logger, metrics } from "../commons/powertools/powertools";

export type ProposalsStore = Pick<RefundStore, "listRuns"> & ProposalStore;

/**
 * `POST /incidents/{incidentId}/proposals` (`{ previewRunId, reason }`): a completed dry run of the incident,
 * proposed by the caller's IAM principal (any name in the body is ignored), 201 with the proposal. Refusals are
 * 400 (no reason), 409 (not a completed preview, a run since or running, proposed already); 404 for no such run.
 */
export async function propose(event: APIGatewayProxyEvent, store: ProposalsStore): Promise<APIGatewayProxyResult> {
  const incidentId = event.pathParameters?.incidentId ?? "";
  let request: ReturnType<typeof parseProposalRequest>;
  try {
    request = parseProposalRequest(JSON.parse(event.body ?? ""));
  } catch (e) {
    if (e instanceof SyntaxError)
      return problem(400, "the request is not valid", ["(the body): must be a JSON object"]);
    if (e instanceof ProposalRequestError) return problem(400, "the request is not valid", e.problems);
    throw e;
  }
  try {
    const runs = await store.listRuns(incidentId);
    const proposedBy = principalOf(event) ?? "";
    const proposal = proposalOfPreview(runs, request.previewRunId, proposedBy, request.reason, new Date());
    if (!proposal) return problem(404, `incident ${incidentId} has no run ${request.previewRunId}`);
    if (!(await store.createProposal(proposal)))
      return problem(409, `proposal ${proposal.proposalId} of run ${request.previewRunId} exists already`);
    metrics.addMetric("ProposalsMade", MetricUnit.Count, 1);
    logger.info("proposal made", { incidentId, proposalId: proposal.proposalId });
    return json(201, proposal);
  } catch (e) {
    if (e instanceof ProposalRefusedError) return refused(e);
    throw e;
  }
}

/**
 * `GET /incidents/{incidentId}/proposals` (every proposal, oldest first) and
 * `GET /incidents/{incidentId}/proposals/{proposalId}` (one: its state, who proposed and approved, what it applied).
 */
export async function readProposals(event: APIGatewayProxyEvent, store: ProposalStore): Promise<APIGatewayProxyResult> {
  const incidentId = event.pathParameters?.incidentId ?? "";
  const proposalId = event.pathParameters?.proposalId;
  if (proposalId === undefined) return json(200, { incidentId, proposals: await store.listProposals(incidentId) });
  const proposal = await store.getProposal(incidentId, proposalId);
  return proposal ? json(200, proposal) : problem(404, `incident ${incidentId} has no proposal ${proposalId}`);
}

let store: ProposalsStore | undefined;

async function storeOnce(): Promise<ProposalsStore> {
  store ??= storeFromEnvironment();
  return store;
}

/** proposals-api: the POST proposes, the GETs read. */
export function makeHandler(getStore: () => Promise<ProposalsStore> = storeOnce) {
  return withPowertools(async (event: APIGatewayProxyEvent) =>
    event.httpMethod === "POST" ? propose(event, await getStore()) : readProposals(event, await getStore()),
  );
}

export const handler = makeHandler();
