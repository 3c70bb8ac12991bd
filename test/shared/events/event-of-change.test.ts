import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { amountBefore, lineEventOf, runCompletedEventOf } from "../../../shared/events/event-of-change";
import { reconcile, type StoredLine } from "../../../shared/reconcile/reconcile";
import type { RunRecord } from "../../../shared/store/refund-store";
import { keyedLine, storedLine } from "../../helpers/factories";

const LINE_ID = "inc#S#C-1#2011-12-01";
const line = (amount: bigint) => keyedLine("C-1", amount, { lineId: LINE_ID });

describe("lineEventOf", () => {
  it("calls a line that did not stand before Calculated: previous 0, delta its amount, id lineId#version", () => {
    const event = lineEventOf("inc", storedLine(line(20n), 1, "active", "run-1"), undefined);
    expect(event).toMatchObject({
      source: "hiwari.refunds",
      detailType: "Refund Calculated",
      eventId: `${LINE_ID}#1`,
      detail: {
        eventId: `${LINE_ID}#1`,
        incidentId: "inc",
        runId: "run-1",
        amount: "20",
        previousAmount: "0",
        delta: "20",
      },
    });
  });

  it("calls a change of a standing line Adjusted, with its delta: 20 → 30 is +10", () => {
    const event = lineEventOf("inc", storedLine(line(30n), 2), storedLine(line(20n), 1));
    expect([event.detailType, event.eventId]).toEqual(["Refund Adjusted", `${LINE_ID}#2`]);
    expect(event.detail).toMatchObject({ amount: "30", previousAmount: "20", delta: "10" });
  });

  it("calls a line that stands no more Voided (stored at 0): delta minus what it owed", () => {
    const event = lineEventOf("inc", storedLine(line(0n), 3, "voided"), storedLine(line(30n), 2));
    expect(event.detailType).toBe("Refund Voided");
    expect(event.detail).toMatchObject({ amount: "0", previousAmount: "30", delta: "-30" });
  });

  it("calls a line voided earlier and produced again Calculated: it owed nothing before", () => {
    const voided = storedLine(line(0n), 2, "voided");
    expect(amountBefore(voided)).toBe(0n);
    const event = lineEventOf("inc", storedLine(line(20n), 3), voided);
    expect(event.detailType).toBe("Refund Calculated");
    expect(event.detail).toMatchObject({ previousAmount: "0", delta: "20" });
  });

  it("property: the deltas of a line's changes, in order, add up to what it owes now (amounts exact at any size)", () => {
    // A sequence of runs, each computing the line at some amount or not at all (undefined: absent, so voided).
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.bigInt({ min: 0n, max: 10n ** 30n }), { nil: undefined }), { maxLength: 8 }),
        (runs) => {
          let stored: StoredLine[] = [];
          let posted = 0n;
          runs.forEach((amount, i) => {
            const computed = amount === undefined ? [] : [line(amount)];
            for (const change of reconcile(stored, computed, `run-${i}`).changes) {
              posted += BigInt((lineEventOf("inc", change.next, change.previous).detail as { delta: string }).delta);
              stored = [change.next];
            }
          });
          const owed = stored[0]?.status === "active" ? stored[0].amount : 0n;
          expect(posted).toBe(owed);
        },
      ),
    );
  });
});

describe("runCompletedEventOf", () => {
  it("names the run once per incident and run, with its counts (zeros when absent) and totals", () => {
    const run = {
      incidentId: "inc",
      runId: "run-1",
      requestedBy: "alice",
      reason: "sp-mode",
      startedAt: "2011-12-24T09:00:00.000Z",
      completedAt: "2011-12-24T09:01:00.000Z",
      totals: [{ serviceCode: "IMADOKO", currency: "JPY", lines: 3, amount: "60" }],
    } as RunRecord;
    const event = runCompletedEventOf(run);
    expect([event.detailType, event.eventId]).toEqual(["Refund Run Completed", "inc#RUN#run-1"]);
    expect(event.detail).toMatchObject({
      counts: { rows: 0, computed: 0, skipped: 0, rejected: 0, calculated: 0, adjusted: 0, voided: 0, unchanged: 0 },
      totals: run.totals,
      completedAt: "2011-12-24T09:01:00.000Z",
    });
  });
});
