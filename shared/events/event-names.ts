/**
 * The event contract's names, apart from its zod schemas (refund-events.ts) so that code which only names events
 * (the publisher) does not bundle zod: a Lambda's cold start loads every byte it ships.
 */
export const EVENT_SOURCE = "hiwari.refunds";
export const SCHEMA_VERSION = "1";
export const LINE_EVENT_TYPES = ["Refund Calculated", "Refund Adjusted", "Refund Voided"] as const;
export const RUN_COMPLETED = "Refund Run Completed";
export type LineEventType = (typeof LINE_EVENT_TYPES)[number];
