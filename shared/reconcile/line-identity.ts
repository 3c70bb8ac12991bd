import type { RefundLine } from "../engine/refund-line";

/**
 * Percent-encodes an id. A rejected row's id may hold the invalid-UTF-8 marker (a lone surrogate), which
 * encodeURIComponent refuses: it becomes U+FFFD first (computed lines never hold one: such rows are rejected).
 */
function encodeId(id: string): string {
  return encodeURIComponent((id as unknown as WellFormed).toWellFormed());
}

/** ES2024's String.prototype.toWellFormed (Node 20 has it; the project's lib is ES2023): lone surrogates → U+FFFD. */
interface WellFormed {
  toWellFormed(): string;
}

/**
 * A refund line's deterministic identity: (incidentId, subscriptionId, periodStart), or for goodwill
 * (incidentId, subscriberId), a subscriber's one goodwill line being its group. Ids may hold any character, so they
 * are percent-encoded: `#` only ever separates.
 */
export function lineIdOf(
  incidentId: string,
  line: Pick<RefundLine, "subscriptionId" | "subscriberId" | "periodStart">,
): string {
  const group = lineGroupOf(incidentId, line);
  return line.subscriptionId === null ? group : lineIdInGroup(group, line.periodStart as string);
}

/** The id of a subscription's line for the period starting `periodStart`, from the subscription's group. */
export function lineIdInGroup(group: string, periodStart: string): string {
  return `${group}#${periodStart}`;
}

/** The key all lines of one subscription share (goodwill: of one subscriber): a DynamoDB partition. */
export function lineGroupOf(incidentId: string, line: Pick<RefundLine, "subscriptionId" | "subscriberId">): string {
  return line.subscriptionId === null
    ? `${incidentId}#G#${encodeId(line.subscriberId)}`
    : `${incidentId}#S#${encodeId(line.subscriptionId)}`;
}
