import { randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import type { BusEvent } from "../../../shared/events/event-of-change";

/** An event EventBridge can never accept as it is (too large, malformed): retrying it would hold its shard. */
export interface RefusedEvent {
  event: BusEvent;
  reason: string;
}

/** What a put left: events to try again (refused for a passing reason, or not tried in time), and refused ones. */
export interface PutOutcome {
  retry: BusEvent[];
  refused: RefusedEvent[];
}

/** Where events go: EventBridge on AWS, a JSON Lines file under `hiwari run`. */
export interface EventBus {
  /** Puts the events; none is tried once `stopBy` (epoch ms) has passed: those come back to retry. */
  put(events: readonly BusEvent[], stopBy?: number): Promise<PutOutcome>;
}

/** At most 10 entries per PutEvents call (the API's limit). */
export const PUT_EVENTS_MAX = 10;
/** At most 256 KB per PutEvents call, and so per entry, counted as EventBridge counts them (entrySize). */
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

/**
 * Per-entry error codes worth retrying: the service's own passing failures, and the deployment's permission faults
 * (fixed by a deployment, not by the event; the records wait in the stream meanwhile and PublisherBehindAlarm says
 * so). Any other code (InvalidArgument, MalformedDetail, RedactionFailure, …) is the entry's own: it never succeeds.
 */
const RETRYABLE_CODES = new Set([
  "InternalFailure",
  "ThrottlingException",
  "AccessDeniedException",
  "NotAuthorizedForSourceException",
  "NotAuthorizedForDetailTypeException",
  "InvalidAccountIdException",
]);

/**
 * The size EventBridge counts for an entry (the PutEvents quota's documented calculation): the UTF-8 bytes of
 * Source, DetailType, Detail and each Resource, and 14 bytes for a Time.
 */
export function entrySize(entry: PutEventsRequestEntry): number {
  const bytes = (s: string | undefined) => (s ? Buffer.byteLength(s, "utf8") : 0);
  let size = entry.Time ? 14 : 0;
  size += bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail);
  for (const r of entry.Resources ?? []) size += bytes(r);
  return size;
}

/**
 * EventBridge: PutEvents calls of at most 10 entries and 256 KB. An entry the service did not accept comes back to
 * retry, unless it can never be accepted (over 256 KB, or refused with an error code of its own, or alone in a call
 * refused as invalid): that one is returned as refused, with why.
 */
export class EventBridgeBus implements EventBus {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async put(events: readonly BusEvent[], stopBy = Number.POSITIVE_INFINITY): Promise<PutOutcome> {
    const outcome: PutOutcome = { retry: [], refused: [] };
    const entries = events.map((e) => ({
      event: e,
      entry: {
        EventBusName: this.busName,
        Source: e.source,
        DetailType: e.detailType,
        Detail: JSON.stringify(e.detail),
      } satisfies PutEventsRequestEntry,
    }));
    // Calls of at most 10 entries and 256 KB; an entry over 256 KB alone is refused without a call.
    const calls: (typeof entries)[] = [];
    let call: typeof entries = [];
    let callBytes = 0;
    for (const item of entries) {
      const size = entrySize(item.entry);
      if (size > PUT_EVENTS_MAX_BYTES) {
        outcome.refused.push({ event: item.event, reason: `the entry is ${size} bytes; EventBridge takes 262,144` });
        continue;
      }
      if (call.length === PUT_EVENTS_MAX || callBytes + size > PUT_EVENTS_MAX_BYTES) {
        calls.push(call);
        call = [];
        callBytes = 0;
      }
      call.push(item);
      callBytes += size;
    }
    if (call.length > 0) calls.push(call);
    for (const chunk of calls) await this.send(chunk, stopBy, outcome);
    return outcome;
  }

  private async send(
    chunk: { event: BusEvent; entry: PutEventsRequestEntry }[],
    stopBy: number,
    outcome: PutOutcome,
  ): Promise<void> {
    if (Date.now() >= stopBy) {
      outcome.retry.push(...chunk.map((c) => c.event)); // out of time: not tried, published on the next delivery
      return;
    }
    try {
      const result = await this.client.send(new PutEventsCommand({ Entries: chunk.map((c) => c.entry) }));
      chunk.forEach(({ event }, k) => {
        const entry = result.Entries?.[k];
        if (entry?.EventId && !entry.ErrorCode) return;
        if (entry?.ErrorCode && !RETRYABLE_CODES.has(entry.ErrorCode))
          outcome.refused.push({ event, reason: `${entry.ErrorCode}: ${entry.ErrorMessage ?? ""}` });
        else outcome.retry.push(event);
      });
    } catch (e) {
      // The call was refused as invalid: one of its entries is. Alone, an entry refused so is refused for good;
      // in company, each is sent again alone to find which.
      if (e instanceof Error && e.name === "ValidationException") {
        if (chunk.length === 1) outcome.refused.push({ event: chunk[0]?.event as BusEvent, reason: e.message });
        else for (const one of chunk) await this.send([one], stopBy, outcome);
        return;
      }
      // The whole call failed (throttled past the SDK's own retries, or the service unavailable): every entry of
      // it goes back to the caller, which backs off and retries only what was not accepted.
      outcome.retry.push(...chunk.map((c) => c.event));
    }
  }
}

/** The local bus: appends each event, in the envelope consumers receive from EventBridge, to a JSON Lines file. */
export class FileBus implements EventBus {
  constructor(private readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  async put(events: readonly BusEvent[]): Promise<PutOutcome> {
    if (events.length === 0) return { retry: [], refused: [] };
    const lines = events.map((e) =>
      JSON.stringify({
        version: "0",
        id: randomUUID(),
        "detail-type": e.detailType,
        source: e.source,
        time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        detail: e.detail,
      }),
    );
    appendFileSync(this.path, `${lines.join("\n")}\n`);
    return { retry: [], refused: [] };
  }
}
