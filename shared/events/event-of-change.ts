import type { StoredLine } from "../reconcile/reconcile";
import type { RunRecord } from "../store/refund-store";
import { EVENT_SOURCE, type LineEventType, RUN_COMPLETED, SCHEMA_VERSION } from "./event-names";
import type { RefundLineEventDetail, RefundRunCompletedDetail } from "./refund-events";

/** An event ready for a bus: what EventBridge's PutEvents entry and the local bus both need. */
export interface BusEvent {
  source: typeof EVENT_SOURCE;
  detailType: LineEventType | typeof RUN_COMPLETED;
  detail: RefundLineEventDetail | RefundRunCompletedDetail;
  /** The key billing deduplicates on (also inside detail). */
  eventId: string;
}

/** What a line owed before a change: its previous amount if it stood, else nothing (new, or voided earlier). */
export const amountBefore = (previous: StoredLine | undefined): bigint =>
  previous?.status === "active" ? previous.amount : 0n;

/**
 * The event for one stored change of a line (the stream record's new and old images).
 * Calculated: the line did not stand before (new, or voided earlier); Voided: it stands no more; else Adjusted.
 */
export function lineEventOf(incidentId: string, next: StoredLine, previous: StoredLine | undefined): BusEvent {
  const before = amountBefore(previous);
  const detailType: LineEventType =
    next.status === "voided"
      ? "Refund Voided"
      : previous?.status === "active"
        ? "Refund Adjusted"
        : "Refund Calculated";
  const eventId = `${next.lineId}#${next.version}`;
  return {
    source: EVENT_SOURCE,
    detailType,
    eventId,
    detail: {
      schemaVersion: SCHEMA_VERSION,
      eventId,
      lineId: next.lineId,
      version: next.version,
      incidentId,
      runId: next.runId,
      subscriptionId: next.subscriptionId,
      subscriberId: next.subscriberId,
      serviceCode: next.serviceCode,
      periodStart: next.periodStart,
      periodEnd: next.periodEnd,
      unit: next.unit,
      units: next.units,
      basis: next.basis,
      amount: next.amount.toString(),
      previousAmount: before.toString(),
      delta: (next.amount - before).toString(),
      currency: next.currency,
    },
  };
}

/** The event of a completed run (the stored run-completed marker). */
export function runCompletedEventOf(run: RunRecord): BusEvent {
  const eventId = `${run.incidentId}#RUN#${run.runId}`;
  const c = run.counts;
  return {
    source: EVENT_SOURCE,
    detailType: RUN_COMPLETED,
    eventId,
    detail: {
      schemaVersion: SCHEMA_VERSION,
      eventId,
      incidentId: run.incidentId,
      runId: run.runId,
      requestedBy: run.requestedBy,
      reason: run.reason,
      startedAt: run.startedAt,
      completedAt: run.completedAt ?? "",
      counts: {
        rows: c?.rows ?? 0,
        computed: c?.computed ?? 0,
        skipped: c?.skipped ?? 0,
        rejected: c?.rejected ?? 0,
        calculated: c?.calculated ?? 0,
        adjusted: c?.adjusted ?? 0,
        voided: c?.voided ?? 0,
        unchanged: c?.unchanged ?? 0,
      },
      totals: run.totals ?? [],
    },
  };
}
