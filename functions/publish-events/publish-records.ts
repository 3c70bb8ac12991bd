import type { DynamoDBRecord } from "aws-lambda";
import { type BusEvent, lineEventOf, runCompletedEventOf } from "../../shared/events/event-of-change";
import type { RunRecord } from "../../shared/store/refund-store";
import type { EventBus } from "../commons/bus/event-bus";
import type { RecordParking } from "../commons/bus/record-parking";
import { fromItem, type Item } from "../commons/dynamodb/line-item";

/** The event a stream record becomes, or undefined for records that are no event (a removed item). */
export function eventOfRecord(record: DynamoDBRecord): BusEvent | undefined {
  const next = record.dynamodb?.NewImage as Item | undefined;
  if (!next) return undefined;
  const kind = next.kind?.S;
  if (kind === "LINE") {
    const previous = record.dynamodb?.OldImage as Item | undefined;
    // A write that changed nothing (a repeated batched write of the same version) is no line change: no event.
    if (previous && previous.version?.N === next.version?.N) return undefined;
    return lineEventOf(next.incidentId?.S as string, fromItem(next), previous ? fromItem(previous) : undefined);
  }
  if (kind === "RUN_COMPLETED") return runCompletedEventOf(JSON.parse(next.run?.S as string) as RunRecord);
  throw new Error(`stream record ${record.eventID}: unknown item kind ${kind}`);
}

export interface PublishOptions {
  /**
   * How long the retries of refused entries may take in all: a time budget, not a count, so that throttling costs
   * time inside one invocation rather than the event source mapping's retries (docs/scale.md, "When throttled").
   */
  budgetMs: number;
  /** The first retry waits up to this long; each next one up to twice as long, capped at `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * When no PutEvents call may start any more (epoch ms; none by default): what is left is reported failed while
   * the invocation still has time to return its partial failures (a timed-out invocation reports none).
   */
  stopBy?: number;
  /** Where poison records go; without it they are reported failed. */
  parking?: RecordParking;
}

export interface PublishResult {
  published: number;
  /** Poison records parked (never retried: their events cannot be built, or EventBridge can never accept them). */
  parked: number;
  /** Sequence numbers of the records whose event could not be mapped or put: reported as batch item failures. */
  failed: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Turns stream records into events, one per line change, and puts them on the bus in calls of at most 10,
 * retrying only the entries that failed, with exponential backoff and full jitter, for as long as the budget
 * lasts. Records that still fail are returned so that the caller reports them as partial batch failures: they
 * wait in the stream and come again (billing dedupes on eventId). A record no event can be built from is parked
 * instead, whole, so that it does not hold the records after it.
 */
export async function publishRecords(
  records: readonly DynamoDBRecord[],
  bus: EventBus,
  options: PublishOptions,
): Promise<PublishResult> {
  const failed = new Set<string>();
  const byEvent = new Map<BusEvent, { record: DynamoDBRecord; sequence: string }>();
  let parked = 0;
  const park = async (record: DynamoDBRecord, sequence: string, reason: string) => {
    try {
      if (!options.parking) throw new Error("nowhere to park it");
      await options.parking.park(record, reason);
      parked++;
    } catch {
      failed.add(sequence); // not parked: it stays in the stream and comes again
    }
  };
  let pending: BusEvent[] = [];
  for (const record of records) {
    const sequence = record.dynamodb?.SequenceNumber ?? record.eventID ?? "";
    let event: BusEvent | undefined;
    try {
      event = eventOfRecord(record);
    } catch (e) {
      await park(record, sequence, e instanceof Error ? e.message : String(e));
      continue;
    }
    if (!event) continue;
    byEvent.set(event, { record, sequence });
    pending.push(event);
  }
  let published = 0;
  const deadline = Date.now() + options.budgetMs;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) {
      // Full jitter: a random wait up to the capped exponential delay, only if it ends within the budget.
      const delay = Math.random() * Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
      if (Date.now() + delay >= deadline) break;
      await sleep(delay);
    }
    const { retry, refused } = await bus.put(pending, options.stopBy);
    published += pending.length - retry.length - refused.length;
    // An event the bus can never accept is parked with its record, as a poison record is: never retried.
    for (const r of refused) {
      const source = byEvent.get(r.event) as { record: DynamoDBRecord; sequence: string };
      await park(source.record, source.sequence, `EventBridge refused its event: ${r.reason}`);
    }
    pending = retry;
  }
  for (const event of pending) failed.add(byEvent.get(event)?.sequence as string);
  return { published, parked, failed: [...failed] };
}
