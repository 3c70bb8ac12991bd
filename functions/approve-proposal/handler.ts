import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { NoSuchKey, S3ServiceException } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { approvalRunToStart, unstartedApprovalMessage } from "../../shared/api/approval-run";
import { parsePinnedS3Uri } from "../../shared/api/run-request";
import { type Incident, IncidentError, parseIncident } from "../../shared/input/incident";
import {
  type ApprovalContext,
  approvalRefusal,
  approverRefusal,
  failApproved,
  markApproved,
  PREVIEW_AGAIN,
  ProposalRefusedError,
  type ProposalStore,
} from "../../shared/pipeline/proposal";
import { runIdOf, sha256 } from "../../shared/pipeline/run-context";
import { INCIDENT_FILE } from "../../shared/pipeline/run-steps";
import { principalOf } from "../commons/http/principal";
import { refused } from "../commons/http/refusals";
import { json, problem } from "../commons/http/responses";
import { withPowertools } from "../commons/powertools/middleware";
import { logger, metrics } from "../commons/powertools/powertools";
import {
  runSummary,
  type StartOutcome,
  type StartRunDeps,
  startRequestedRun,
  startRunDepsFromEnvironment,
} from "../start-run/start-requested-run";

/** S3's answer for a key that is not there: 404, or 403 to a caller without s3:ListBucket (none is granted it). */
const missing = (e: unknown) =>
  e instanceof NoSuchKey || (e instanceof S3ServiceException && [403, 404].includes(e.$metadata.httpStatusCode ?? 0));

/** The kept incident as the run would parse it; undefined when it no longer parses (a stricter schema since). */
function incidentOf(text: string): Incident | undefined {
  try {
    return parseIncident(JSON.parse(text));
  } catch (e) {
    if (e instanceof IncidentError || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

export type ApproveDeps = StartRunDeps & { store: StartRunDeps["store"] & ProposalStore };

/**
 * `POST /incidents/{incidentId}/proposals/{proposalId}/approve`: the caller's IAM principal approves (any name in
 * the body is ignored); its proposer, or whoever ran its preview, may not (403). Refused (409) while another run
 * of the incident is requested or running or another proposal approved, when a run came or ended since the
 * preview, or the incident kept with the preview is not the one previewed or no longer parses; all checked before
 * it is marked approved (one approval wins) and applied by a run started as a runs POST starts one: request id
 * the proposal's, the preview's incident, its snapshot version and batch size. 202 with the proposal and the run;
 * complete settles the proposal when the run ends. Its approver may send it again: the same run is found (200), or
 * started if it was not (after a 503: the run recorded, its execution not started).
 */
export async function approve(event: APIGatewayProxyEvent, deps: ApproveDeps): Promise<APIGatewayProxyResult> {
  const incidentId = event.pathParameters?.incidentId ?? "";
  const proposalId = event.pathParameters?.proposalId ?? "";
  const approver = principalOf(event) ?? "";
  const proposal = await deps.store.getProposal(incidentId, proposalId);
  if (!proposal) return problem(404, `incident ${incidentId} has no proposal ${proposalId}`);
  // Who may approve, first: refused before anything else is read.
  const person = approverRefusal(proposal, approver);
  if (person) return refused(person);
  const preview = await deps.store.getRun(incidentId, proposal.previewRunId);
  const incidentText = await deps
    .filesOf({ incidentId, runId: proposal.previewRunId })
    .get(INCIDENT_FILE)
    .catch((e) => (missing(e) ? undefined : Promise.reject(e)));
  const snapshot = parsePinnedS3Uri(proposal.snapshotName);
  if (!preview || incidentText === undefined || !snapshot)
    return problem(
      409,
      `the preview ${proposal.previewRunId} is gone (its record, incident or pinned snapshot): ${PREVIEW_AGAIN}`,
    );
  const now: ApprovalContext = {
    approver,
    runs: await deps.store.listRuns(incidentId),
    proposals: await deps.store.listProposals(incidentId),
    incidentDigest: sha256(incidentText),
    // Pinned to its S3 version, the snapshot is the bytes previewed; the run's own digest is checked at settling.
    snapshotDigest: proposal.snapshotDigest,
  };
  // Everything the run needs is checked before the proposal is marked approved: once marked, nobody else may.
  const refusal = approvalRefusal(proposal, now);
  if (refusal) return problem(409, refusal);
  const incident = incidentOf(incidentText);
  if (!incident) return problem(409, `the previewed incident no longer parses: ${PREVIEW_AGAIN}`);
  let approved: typeof proposal;
  try {
    approved = await markApproved(deps.store, proposal, now);
  } catch (e) {
    if (e instanceof ProposalRefusedError) return refused(e);
    throw e;
  }
  let outcome: StartOutcome;
  try {
    outcome = await startRequestedRun(
      approvalRunToStart(approved, approver, { preview, incident, incidentText, snapshot }),
      deps,
    );
  } catch (e) {
    // Approved, its run perhaps recorded but not started (Step Functions, S3 or DynamoDB failed): its approver's
    // resend checks it again and starts the same run.
    logger.error("approved proposal's run did not start", { incidentId, proposalId, error: e as Error });
    return problem(
      503,
      `proposal ${proposalId} approved by ${approved.approvedBy}; its run did not start: send the approval again (it resumes)`,
    );
  }
  if (outcome.kind === "refused") {
    const why = [outcome.message, ...(outcome.problems ?? [])].join(": ");
    const runId = runIdOf(incidentId, proposalId);
    const after = await failApproved(deps.store, approved, why, await deps.store.getRun(incidentId, runId));
    logger.error("approved proposal could not start its run", { incidentId, proposalId, state: after.state });
    return problem(409, unstartedApprovalMessage(after, runId, why));
  }
  if (outcome.kind === "started") metrics.addMetric("ProposalsApproved", MetricUnit.Count, 1);
  return json(outcome.kind === "started" ? 202 : 200, { proposal: approved, run: runSummary(outcome) });
}

export function makeHandler(getDeps: () => Promise<ApproveDeps> = startRunDepsFromEnvironment) {
  return withPowertools(async (event: APIGatewayProxyEvent) => approve(event, await getDeps()));
}

export const handler = makeHandler();
