import * as z from "zod";

/**
 * The events billing consumes: the contract, defined once. JSON Schema files for consumers are generated from it
 * into docs/events/ (`npm run events:schemas`; a test fails when they are stale).
 *
 * Versioning: `schemaVersion` is "1". Adding an optional field is not a change of version; removing or renaming a
 * field, or changing its type or meaning, is a new major version published beside the old one for a time.
 * Amounts are decimal strings of integer minor units: exact at any size, which a JSON number is not past 2^53.
 */
import { EVENT_SOURCE, LINE_EVENT_TYPES, RUN_COMPLETED, SCHEMA_VERSION } from "./event-names";

export { EVENT_SOURCE, LINE_EVENT_TYPES, type LineEventType, RUN_COMPLETED, SCHEMA_VERSION } from "./event-names";

const minorUnits = z
  .string()
  .regex(/^-?(0|[1-9][0-9]*)$/)
  .describe("integer minor units of `currency`, as a decimal string");
const localDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

export const RefundLineEventDetail = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    eventId: z.string().describe("`lineId#version`: unique per line change; the key to deduplicate on"),
    lineId: z
      .string()
      .describe(
        "deterministic identity of the line: incident + subscription + period start, or incident + subscriber for goodwill",
      ),
    version: z.number().int().positive().describe("1 for the first event of a line, +1 at each change"),
    incidentId: z.string(),
    runId: z.string().describe("the run that made this change"),
    subscriptionId: z.string().nullable().describe("null for goodwill"),
    subscriberId: z.string(),
    serviceCode: z.string().nullable().describe("null for goodwill"),
    periodStart: localDate.nullable().describe("first local date of the billing period; null for goodwill"),
    periodEnd: localDate.nullable().describe("first local date of the next period (exclusive); null for goodwill"),
    unit: z.enum(["day", "second", "goodwill"]),
    units: z.number().int().nonnegative(),
    basis: z.number().int().positive(),
    amount: minorUnits.describe("what is owed on this line now (0 once voided)"),
    previousAmount: minorUnits.describe("what was owed on this line before this change (0 for a new line)"),
    delta: minorUnits.describe("amount − previousAmount: post it; the deltas of a line sum to what is owed now"),
    currency: z.string().regex(/^[A-Z]{3}$/),
  })
  .describe("detail of Refund Calculated, Refund Adjusted and Refund Voided");
export type RefundLineEventDetail = z.infer<typeof RefundLineEventDetail>;

const count = z.number().int().nonnegative();
export const RefundRunCompletedDetail = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    eventId: z.string().describe("`incidentId#RUN#runId`"),
    incidentId: z.string(),
    runId: z.string(),
    requestedBy: z.string(),
    reason: z.string(),
    startedAt: z.string(),
    completedAt: z.string(),
    counts: z.object({
      rows: count,
      computed: count,
      skipped: count,
      rejected: count,
      calculated: count,
      adjusted: count,
      voided: count,
      unchanged: count,
    }),
    totals: z
      .array(z.object({ serviceCode: z.string().nullable(), currency: z.string(), lines: count, amount: minorUnits }))
      .describe("what is owed now, per service (null: goodwill) and currency, over the incident's standing lines"),
  })
  .describe("detail of Refund Run Completed");
export type RefundRunCompletedDetail = z.infer<typeof RefundRunCompletedDetail>;

/** The envelope as consumers receive it from EventBridge (and as the local bus writes it). */
export function envelopeSchema<T extends z.ZodType, D extends z.ZodType>(detailType: T, detail: D) {
  return z.object({
    version: z.literal("0"),
    id: z.string(),
    "detail-type": detailType,
    source: z.literal(EVENT_SOURCE),
    time: z.string(),
    detail,
  });
}

export const RefundLineEvent = envelopeSchema(z.enum(LINE_EVENT_TYPES), RefundLineEventDetail);
export const RefundRunCompletedEvent = envelopeSchema(z.literal(RUN_COMPLETED), RefundRunCompletedDetail);

/** The JSON Schema documents published for consumers, by file name. */
export function eventJsonSchemas(): Record<string, unknown> {
  return {
    "refund-line-event.schema.json": z.toJSONSchema(RefundLineEvent),
    "refund-run-completed-event.schema.json": z.toJSONSchema(RefundRunCompletedEvent),
  };
}
