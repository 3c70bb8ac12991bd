import { randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import type { BusEvent } from "../../../shared/events/event-of-change";

/**
 * Where events go: EventBridge on AWS, a JSON Lines file under `hiwari run`. Returns the events not accepted,
 * including those it did not try because `stopBy` (epoch ms) had passed.
 */
export interface EventBus {
  put(events: readonly BusEvent[], stopBy?: number): Promise<BusEvent[]>;
}

/** At most 10 entries per PutEvents call (the API's limit). */
export const PUT_EVENTS_MAX = 10;

/** EventBridge: one PutEvents call per 10 events; an entry the service did not accept is returned as failed. */
export class EventBridgeBus implements EventBus {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async put(events: readonly BusEvent[], stopBy = Number.POSITIVE_INFINITY): Promise<BusEvent[]> {
    const failed: BusEvent[] = [];
    for (let i = 0; i < events.length; i += PUT_EVENTS_MAX) {
      const chunk = events.slice(i, i + PUT_EVENTS_MAX);
      if (Date.now() >= stopBy) {
        failed.push(...chunk); // out of time: not tried, reported failed, published on the next delivery
        continue;
      }
      const entries: PutEventsRequestEntry[] = chunk.map((e) => ({
        EventBusName: this.busName,
        Source: e.source,
        DetailType: e.detailType,
        Detail: JSON.stringify(e.detail),
      }));
      try {
        const result = await this.client.send(new PutEventsCommand({ Entries: entries }));
        chunk.forEach((event, k) => {
          const entry = result.Entries?.[k];
          if (!entry || entry.ErrorCode || !entry.EventId) failed.push(event);
        });
      } catch {
        // The whole call failed (throttled past the SDK's own retries, or the service unavailable): every entry of
        // it goes back to the caller, which backs off and retries only what was not accepted.
        failed.push(...chunk);
      }
    }
    return failed;
  }
}

/** The local bus: appends each event, in the envelope consumers receive from EventBridge, to a JSON Lines file. */
export class FileBus implements EventBus {
  constructor(private readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  async put(events: readonly BusEvent[]): Promise<BusEvent[]> {
    if (events.length === 0) return [];
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
    return [];
  }
}
