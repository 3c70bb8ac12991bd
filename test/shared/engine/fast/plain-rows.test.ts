import { describe, expect, it } from "vitest";
import { asciiText, type RowVisitor, SnapshotScanner } from "../../../../shared/csv/snapshot-scanner";
import { SubscriptionCalculator } from "../../../../shared/engine/compute-subscription";
import { duplicatesOf, isDuplicateId, PlainRows } from "../../../../shared/engine/fast/plain-rows";
import { parseIncident } from "../../../../shared/input/incident";
import { readHeader, SUBSCRIPTION_COLUMNS, type SubscriptionHeader } from "../../../../shared/input/subscription-row";
import { ServiceTotals } from "../../../../shared/money/service-totals";
import { csvOf, incidentDoc, type Row, row } from "../../../helpers/factories";

// The byte path's judgement on its own. That it takes exactly the rows the reference judgement takes, with the same
// lines, is the differential properties' (fast-engine.test.ts, compute-batch.test.ts); here, what it reports.

// The sp-mode window (2011-12-20 23:30 → 2011-12-22 14:00, Tokyo), calendar-day, actual, floor.
const incident = parseIncident(incidentDoc({}));
const header = (readHeader([...SUBSCRIPTION_COLUMNS]) as { header: SubscriptionHeader }).header;

/** Each plain line of the rows, as the scanner hands it to `accept`; other records are listed by line. */
function scan(rows: Row[], visit: (bytes: Uint8Array, cuts: Int32Array, line: number) => void): number[] {
  const text = csvOf(rows);
  const others: number[] = [];
  const visitor: RowVisitor = { plain: visit, record: (r) => others.push(r.line) };
  const width = SUBSCRIPTION_COLUMNS.length;
  const scanner = new SnapshotScanner({ header: () => width, ...visitor }, { width, line: 2 });
  scanner.push(new TextEncoder().encode(text.slice(text.indexOf("\n") + 1)));
  scanner.end();
  return others;
}

function plainRows(duplicates: string[] = [], totals?: ServiceTotals) {
  const rendered: string[] = [];
  const rows = new PlainRows<string>(
    incident,
    new SubscriptionCalculator(incident),
    duplicatesOf(duplicates),
    (c, currency, amounts) => {
      const out = `${c.service} ${currency} ${amounts.join(",")} (${c.periods.map((p) => p.units).join(",")} days)`;
      rendered.push(out);
      return out;
    },
    totals,
  );
  rows.begin(header);
  return { rows, rendered };
}

describe("PlainRows", () => {
  it("reports a taken row's ids, fee, currency, active range and class; its lines computed once per fee", () => {
    const { rows, rendered } = plainRows();
    const seen: unknown[] = [];
    scan([row({}, 1), row({}, 2), row({ monthly_fee: "310" }, 3)], (bytes, cuts) => {
      expect(rows.accept(bytes, cuts)).toBe(true);
      const c = rows.rowClass;
      seen.push([
        asciiText(bytes, rows.idStart, rows.idEnd),
        asciiText(bytes, rows.subStart, rows.subEnd),
        rows.fee,
        rows.currency,
        new Date(rows.activeFrom * 1000).toISOString(),
        rows.activeTo,
        c === undefined ? undefined : rows.entryOf(c, rows.fee, rows.currency).out,
      ]);
    });
    // Days 20, 21, 22 of December's 31: floor(210 × 3 / 31) = 20; floor(310 × 3 / 31) = 30.
    const jan1 = "2010-12-31T15:00:00.000Z"; // 2011-01-01, midnight in Tokyo
    expect(seen).toEqual([
      ["C-1", "S-1", 210, "JPY", jan1, Number.POSITIVE_INFINITY, "IMADOKO JPY 20 (3 days)"],
      ["C-2", "S-2", 210, "JPY", jan1, Number.POSITIVE_INFINITY, "IMADOKO JPY 20 (3 days)"],
      ["C-3", "S-3", 310, "JPY", jan1, Number.POSITIVE_INFINITY, "IMADOKO JPY 30 (3 days)"],
    ]);
    expect(rendered).toEqual(["IMADOKO JPY 20 (3 days)", "IMADOKO JPY 30 (3 days)"]);
  });

  it("reports a service no window names as skipped, and a row outside the window as without a class", () => {
    const { rows } = plainRows();
    const seen: unknown[] = [];
    scan([row({ service_code: "OTHER" }, 1), row({ active_to: "2011-12-01" }, 2)], (bytes, cuts) => {
      expect(rows.accept(bytes, cuts)).toBe(true);
      seen.push([rows.service, rows.rowClass]);
    });
    expect(seen).toEqual([
      [-1, undefined],
      [0, undefined],
    ]);
  });

  it("declines, deciding nothing, every row with a fault or a doubt: the reference judgement takes those", () => {
    const { rows } = plainRows(["C-9"]);
    const declined: string[] = [];
    const faulty = [
      row({ monthly_fee: "abc" }, 1),
      row({ monthly_fee: "0210" }, 2),
      row({ monthly_fee: "1234567890123456" }, 3), // 16 digits: valid, but past the byte path's exact range
      row({ currency: "XYZ" }, 4),
      row({ active_from: "2011-02-29" }, 5),
      row({ active_to: "2010-01-01" }, 6), // ends before it starts
      row({ time_zone: "JST" }, 7),
      row({ billing_day: "32" }, 8),
      row({}, 9), // a duplicate id
      row({ subscription_id: "x".repeat(129) }, 10),
      row({ subscriber_id: "" }, 11),
    ];
    const others = scan(faulty, (bytes, cuts) => {
      rows.idStart = -1;
      if (!rows.accept(bytes, cuts)) declined.push(asciiText(bytes, (cuts[0] as number) + 1, cuts[1] as number));
      expect(rows.idStart).toBe(-1); // nothing set
    });
    expect(others).toEqual([]);
    expect(declined).toEqual(["C-1", "C-2", "C-3", "C-4", "C-5", "C-6", "C-7", "C-8", "C-9", "x".repeat(129), "C-11"]);
  });

  it("settles each class's rows per fee into the totals it was given, once", () => {
    const totals = new ServiceTotals();
    const { rows } = plainRows([], totals);
    scan([row({}, 1), row({}, 2), row({ monthly_fee: "310" }, 3)], (bytes, cuts) => {
      rows.accept(bytes, cuts);
      if (rows.rowClass) rows.entryOf(rows.rowClass, rows.fee, rows.currency).rows++;
    });
    rows.settleAll();
    rows.settleAll();
    expect(totals.listAsText()).toEqual([{ serviceCode: "IMADOKO", currency: "JPY", lines: 3, amount: "70" }]);
  });
});

describe("duplicatesOf", () => {
  it("holds the ids and their fingerprints; isDuplicateId asks the ids", () => {
    const duplicates = duplicatesOf(["C-1", "日本"]);
    expect(isDuplicateId(duplicates, "C-1")).toBe(true);
    expect(isDuplicateId(duplicates, "日本")).toBe(true);
    expect(isDuplicateId(duplicates, "C-2")).toBe(false);
    expect(isDuplicateId(duplicatesOf([]), "C-1")).toBe(false);
  });
});
