import type { RunRecord } from "../store/refund-store";

/**
 * Four eyes on reruns, where a stage requires it (`requireProposalForReruns`, on in prod): once an incident has a
 * run that writes lines (not a dry run, in any status: a failed or only requested one may have written or will),
 * another writing run must come through an approved proposal (`POST …/proposals`, then another person's
 * `POST …/proposals/{proposalId}/approve`). A dry run, an incident's first run and a retry of the same request
 * (the same run id) are never refused. Returns why the run is refused, or undefined.
 */
export function unapprovedRerunRefusal(
  wanted: Pick<RunRecord, "incidentId" | "runId" | "dryRun"> & { proposalId?: string },
  runs: readonly RunRecord[],
): string | undefined {
  if (wanted.dryRun || wanted.proposalId !== undefined) return undefined;
  const earlier = runs.find((r) => !r.dryRun && r.runId !== wanted.runId);
  if (!earlier) return undefined;
  const incident = `/incidents/${encodeURIComponent(wanted.incidentId)}`;
  return (
    `incident ${wanted.incidentId} has a run that writes lines already (${earlier.runId}): here a rerun needs four ` +
    `eyes. Send it as a dry run (dryRun: true), propose that preview (POST ${incident}/proposals with its ` +
    `previewRunId and a reason), and have another person approve it (POST ${incident}/proposals/{proposalId}/approve)`
  );
}

/**
 * Request ids of the form of a proposal's id (`prop-` and hex) are its approval's: its run is requested by the
 * approval, with the proposal id as request id. A runs POST may not take one (it would pre-empt, or pass for, the
 * approved run). Returns the problem, or undefined.
 */
export function reservedRequestIdProblem(requestId: string): string | undefined {
  return /^prop-/i.test(requestId)
    ? "requestId: must not start with prop- (a proposal's run is requested by its approval)"
    : undefined;
}
