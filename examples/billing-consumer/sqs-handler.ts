/**
 * The example billing consumer as a Lambda function on the BillingConsumer queue (consumer-stack.ts): each SQS
 * message's body is one EventBridge event, as the rule delivered it. Each is validated against hiwari's contract
 * and posted to the ledger (ledger.ts: dedupe on `detail.eventId`, post `detail.delta`).
 *
 * Partial batch failures: a message that is not JSON or breaks the contract fails alone. It is reported in
 * `batchItemFailures`, SQS delivers it again, and after the queue's `maxReceiveCount` it is in the dead-letter
 * queue, whose alarm fires; the rest of the batch is posted and deleted.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { RefundLineEvent, RefundRunCompletedEvent, RUN_COMPLETED } from "../../shared/events/refund-events";
import { newLedger, post } from "./ledger";

/**
 * The ledger, in memory for the example: it lives as long as the Lambda execution environment, and each
 * concurrent environment has its own. A real consumer keeps it in its own database, with the eventId as a unique
 * key written in the same transaction as the posting, so a redelivered event is refused by the database itself.
 */
export const ledger = newLedger();

const processor = new BatchProcessor(EventType.SQS);

/** One message: its body parsed and validated (a throw fails this record only), then posted. */
function postRecord(record: SQSRecord): ReturnType<typeof post> {
  const body: unknown = JSON.parse(record.body);
  if ((body as { "detail-type"?: unknown } | null)?.["detail-type"] === RUN_COMPLETED) {
    RefundRunCompletedEvent.parse(body); // nothing to post: a run's totals are for reconciliation reports
    return "run-completed";
  }
  return post(ledger, RefundLineEvent.parse(body));
}

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  processPartialResponse(event, postRecord, processor, { context });
