import { describe, expect, it } from "vitest";
import { newLedger, post } from "../../examples/billing-consumer/ledger";
import { lineEventOf } from "../../shared/events/event-of-change";
import type { StoredLine } from "../../shared/reconcile/reconcile";
import { keyedLine, storedLine } from "../helpers/factories";

const line = (version: number, amount: bigint, status: StoredLine["status"] = "active") =>
  storedLine(keyedLine("C-1", amount), version, status, "run-1");
const envelope = (next: StoredLine, previous?: StoredLine) => {
  const e = lineEventOf("inc", next, previous);
  return { version: "0", id: "x", "detail-type": e.detailType, source: e.source, time: "t", detail: e.detail };
};

describe("the example billing consumer", () => {
  it("posts deltas once each, so redelivered events leave the balance at what is owed now", () => {
    const events = [
      envelope(line(1, 20n)),
      envelope(line(2, 13n), line(1, 20n)),
      envelope(line(3, 0n, "voided"), line(2, 13n)),
      envelope(line(4, 20n), line(3, 0n, "voided")),
    ];
    const ledger = newLedger();
    const outcomes = [...events, events[1], events[0], events[3]].map((e) => post(ledger, e));
    expect(outcomes).toEqual(["posted", "posted", "posted", "posted", "duplicate", "duplicate", "duplicate"]);
    expect(ledger.balances.get("S-1 JPY")).toBe(20n);
  });

  it("refuses an event that breaks the contract", () => {
    const bad = envelope(line(1, 20n));
    expect(() => post(newLedger(), { ...bad, detail: { ...bad.detail, delta: 20 } })).toThrow();
  });
});
