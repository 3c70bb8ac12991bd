import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import middy from "@middy/core";
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { EventBridgeBus, type EventBus, FileBus } from "../commons/bus/event-bus";
import { LOG_CONTEXT, logger, metrics } from "../commons/powertools/powertools";
import { publishRecords } from "./publish-records";

/** The bus adapter: a local JSON Lines file when HIWARI_EVENTS_FILE is set (`hiwari run`), else EventBridge. */
function busFromEnvironment(): EventBus {
  const file = process.env.HIWARI_EVENTS_FILE;
  if (file) return new FileBus(file);
  return new EventBridgeBus(new EventBridgeClient({}), process.env.EVENT_BUS_NAME ?? "default");
}

let bus: EventBus | undefined;

/** Retries of refused entries may use the invocation's time up to 40 s, leaving 20 s to report and return. */
export const retryBudgetMs = (remainingMs: number) => Math.max(0, Math.min(40_000, remainingMs - 20_000));

/**
 * publish-events: the refunds table's stream (the outbox) → billing events, one per line change.
 *
 * Partial batch failures are reported as Powertools' BatchProcessor would (`batchItemFailures` with the sequence
 * numbers), but not through it: it hands records to a handler one at a time, and PutEvents takes ten entries a
 * call under a quota counted in calls. `publishRecords` puts the batch's events ten at a time, retries only the
 * entries that failed, and reports the records whose event did not go out.
 */
export const handler = middy(async (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> => {
  bus ??= busFromEnvironment();
  const result = await publishRecords(event.Records, bus, {
    budgetMs: retryBudgetMs(context.getRemainingTimeInMillis()),
    baseDelayMs: 100,
    maxDelayMs: 5_000,
  });
  metrics.addMetric("EventsPublished", MetricUnit.Count, result.published);
  metrics.addMetric("RecordsFailed", MetricUnit.Count, result.failed.length);
  if (result.failed.length > 0)
    logger.warn("records not published; reported as batch item failures", { failed: result.failed.length });
  return { batchItemFailures: result.failed.map((itemIdentifier) => ({ itemIdentifier })) };
})
  .use(injectLambdaContext(logger, LOG_CONTEXT))
  .use(logMetrics(metrics));
