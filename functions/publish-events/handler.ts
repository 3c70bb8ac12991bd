import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { EventBridgeBus, type EventBus } from "../commons/bus/event-bus";
import { type RecordParking, SqsRecordParking } from "../commons/bus/record-parking";
import { eventBridgeClient } from "../commons/clients/eventbridge";
import { sqsClient } from "../commons/clients/sqs";
import { withPowertools } from "../commons/powertools/middleware";
import { logger, metrics } from "../commons/powertools/powertools";
import { requiredEnv } from "../commons/required-env";
import { publishRecords } from "./publish-records";

/** Where events go, and where a record no event can be built from is parked. */
export interface PublishAdapters {
  bus: EventBus;
  parking: RecordParking;
}

/**
 * The adapters on AWS: EventBridge (a call that hangs gives up after 5 s: the SDK retries it) and the dead-letter
 * queue. `hiwari run` passes its own (local JSON Lines files) to `makeHandler`.
 */
function adaptersFromEnvironment(): PublishAdapters {
  return {
    bus: new EventBridgeBus(eventBridgeClient(), requiredEnv("EVENT_BUS_NAME")),
    parking: new SqsRecordParking(sqsClient(), requiredEnv("PARKED_QUEUE_URL")),
  };
}

let adapters: PublishAdapters | undefined;

/** Retries of refused entries may use the invocation's time up to 40 s, leaving 20 s to report and return. */
export const retryBudgetMs = (remainingMs: number) => Math.max(0, Math.min(40_000, remainingMs - 20_000));

/**
 * publish-events: the refunds table's stream (the outbox) → billing events, one per line change.
 *
 * Partial batch failures are reported as Powertools' BatchProcessor would (`batchItemFailures` with the sequence
 * numbers), but not through it: it hands records to a handler one at a time, and PutEvents takes ten entries a
 * call under a quota counted in calls. `publishRecords` puts the batch's events ten at a time, retries only the
 * entries that failed, and reports the records whose event did not go out.
 * `adaptersOf` gives the adapters of each invocation: built once from the environment on AWS, given by `hiwari run`
 * (a process may run several state folders, so nothing local is kept between calls). Wrapped as every function is
 * (`withPowertools`): the invocation and its EventBridge and SQS calls traced, the context logged, metrics flushed.
 */
export function makeHandler(adaptersOf: () => PublishAdapters) {
  return withPowertools(async (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> => {
    const { bus, parking } = adaptersOf();
    const remaining = context.getRemainingTimeInMillis();
    const result = await publishRecords(event.Records, bus, {
      budgetMs: retryBudgetMs(remaining),
      baseDelayMs: 100,
      maxDelayMs: 5_000,
      stopBy: Date.now() + remaining - 10_000,
      parking,
    });
    metrics.addMetric("EventsPublished", MetricUnit.Count, result.published);
    metrics.addMetric("RecordsFailed", MetricUnit.Count, result.failed.length);
    metrics.addMetric("RecordsParked", MetricUnit.Count, result.parked);
    if (result.parked > 0)
      logger.error("poison stream records parked in the dead-letter queue: see docs/operations.md", {
        parked: result.parked,
      });
    if (result.failed.length > 0)
      logger.warn("records not published; reported as batch item failures", { failed: result.failed.length });
    return { batchItemFailures: result.failed.map((itemIdentifier) => ({ itemIdentifier })) };
  });
}

/** The Lambda's handler: EventBridge and the dead-letter queue, named by the environment. */
export const handler = makeHandler(() => {
  adapters ??= adaptersFromEnvironment();
  return adapters;
});
