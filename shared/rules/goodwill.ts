import type { RefundLine } from "../engine/refund-line";
import type { Incident } from "../input/incident";
import type { SubscriptionRow } from "../input/subscription-row";
import { matchesWhere } from "../input/where";

/** What goodwill needs to know of a valid row: its active range and the cells its `where` looks at. */
export type GoodwillRow = Pick<SubscriptionRow, "activeFrom" | "activeTo" | "cells">;

/**
 * Whether a valid row credits its subscriber with the incident's goodwill: the one place where "who is credited"
 * is decided, for both engines and the pipeline. `suspended` says the row's E is non-empty (it owes refund lines
 * or would, but for rounding); a row of a service no window names is never suspended. A rejected row is never
 * asked: it qualifies no one.
 * NOTE: no goodwill → no one. With `goodwill.where`, only a row that matches it qualifies. Then by scope:
 * "refunded" (the default, v1) → E ≠ ∅; "active" → the row is active for a positive length inside the incident's
 * span [earliest start, latest end) over all windows, whatever their `where` and service:
 * max(active_from, start) < min(active_to, end).
 */
export function creditsSubscriber(incident: Incident, row: GoodwillRow, suspended: boolean): boolean {
  const goodwill = incident.goodwill;
  if (!goodwill) return false;
  if (goodwill.where && !matchesWhere(goodwill.where, row.cells)) return false;
  if (goodwill.scope === "refunded") return suspended;
  const { span } = incident;
  return Math.max(row.activeFrom, span.start) < Math.min(row.activeTo, span.end);
}

/**
 * The goodwill line for a credited subscriber, or undefined when the incident grants none: one per subscriber,
 * nulls for the subscription, service and period, unit "goodwill", units and basis 1, the goodwill's amount and
 * currency whatever the subscriptions' currencies.
 */
export function goodwillLine(incident: Incident, subscriberId: string): RefundLine | undefined {
  if (!incident.goodwill) return undefined;
  return {
    subscriptionId: null,
    subscriberId,
    serviceCode: null,
    periodStart: null,
    periodEnd: null,
    unit: "goodwill",
    units: 1,
    basis: 1,
    amount: incident.goodwill.amount,
    currency: incident.goodwill.currency,
  };
}
