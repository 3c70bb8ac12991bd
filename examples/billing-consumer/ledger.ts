/**
 * An example billing consumer of hiwari's events: what a billing system does with them. Deduplicate on
 * `detail.eventId` (delivery is at least once), validate against the published contract, and post
 * `detail.delta` to the subscriber's account. The deltas of a line sum to what is owed on it now.
 */
import { RefundLineEvent, RUN_COMPLETED } from "../../shared/events/refund-events";

export interface Ledger {
  /** eventIds already posted: in a real system, a table with a unique key, written with the posting. */
  posted: Set<string>;
  /** What each subscriber is owed, per currency, in minor units. */
  balances: Map<string, bigint>;
}

export const newLedger = (): Ledger => ({ posted: new Set(), balances: new Map() });

/** Posts one event (an envelope as EventBridge delivers it). Returns what happened, for the caller's log. */
export function post(ledger: Ledger, envelope: unknown): "posted" | "duplicate" | "run-completed" {
  if ((envelope as { "detail-type"?: string })["detail-type"] === RUN_COMPLETED) return "run-completed";
  const event = RefundLineEvent.parse(envelope); // a malformed event is an error for the dead-letter queue
  const { eventId, subscriberId, currency, delta } = event.detail;
  if (ledger.posted.has(eventId)) return "duplicate";
  const account = `${subscriberId} ${currency}`;
  ledger.balances.set(account, (ledger.balances.get(account) ?? 0n) + BigInt(delta));
  ledger.posted.add(eventId);
  return "posted";
}
