import type { Incident } from "../input/incident";
import { appliedReason, type Proposal } from "../pipeline/proposal";
import type { RunRecord } from "../store/refund-store";
import type { S3Location } from "./run-request";
import type { RunToStart } from "./start-run-decision";

/** What an approval applies, as kept with its preview: the incident (its text and as parsed) and the pinned snapshot. */
export interface KeptPreview {
  preview: Pick<RunRecord, "batchSize">;
  incident: Incident;
  incidentText: string;
  snapshot: S3Location;
}

/**
 * The run an approved proposal starts, asked for as a runs POST asks (`startRunDecision`): the proposal's id as
 * request id (so its approver's resend finds the same run), requested by the approver, not a dry run, with the
 * preview's incident, snapshot version and batch size; the reason says whose proposal and approval it applies.
 *
 * @param approved - the proposal as marked approved
 * @param approver - the caller's principal (its approver, or the same person again on a resend)
 * @param kept - what the preview kept
 */
export function approvalRunToStart(approved: Proposal, approver: string, kept: KeptPreview): RunToStart {
  return {
    incidentId: approved.incidentId,
    requestId: approved.proposalId,
    requestedBy: approver,
    reason: appliedReason(approved),
    dryRun: false,
    batchSize: kept.preview.batchSize,
    incident: kept.incident,
    incidentText: kept.incidentText,
    snapshot: kept.snapshot,
    proposalId: approved.proposalId,
  };
}

/**
 * The 409 for an approved proposal whose run could not start (`why`), as `failApproved` left it (`after`):
 * failed when no run of its id exists (nothing was applied), else still approved, for its run to settle it.
 *
 * @param after - the proposal as stored after `failApproved`
 * @param runId - the run id of the proposal's run
 * @param why - why its run could not start
 */
export function unstartedApprovalMessage(after: Proposal, runId: string, why: string): string {
  return after.state === "failed"
    ? `proposal ${after.proposalId} was approved, but its run could not start, so it failed: ${after.failure}`
    : `proposal ${after.proposalId} was approved, but its run could not start: ${why}. It stays ${after.state}: ` +
        `its run ${runId} exists, and settles it when it ends`;
}
