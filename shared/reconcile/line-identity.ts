import type { RefundLine } from "../engine/refund-line";

/**
 * A refund line's deterministic identity: (incidentId, subscriptionId, periodStart), or for goodwill
 * (incidentId, subscriberId). Ids may hold any character, so they are percent-encoded: `#` only ever separates.
 */
export function lineIdOf(
  incidentId: string,
  line: Pick<RefundLine, "subscriptionId" | "subscriberId" | "periodStart">,
): string {
  return line.subscriptionId === null
    ? `${incidentId}#G#${encodeURIComponent(line.subscriberId)}`
    : `${incidentId}#S#${encodeURIComponent(line.subscriptionId)}#${line.periodStart}`;
}

/** The key all lines of one subscription share (goodwill: of one subscriber): a DynamoDB partition. */
export function lineGroupOf(incidentId: string, line: Pick<RefundLine, "subscriptionId" | "subscriberId">): string {
  return line.subscriptionId === null
    ? `${incidentId}#G#${encodeURIComponent(line.subscriberId)}`
    : `${incidentId}#S#${encodeURIComponent(line.subscriptionId)}`;
}
