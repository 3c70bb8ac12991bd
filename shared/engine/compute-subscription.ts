import type { CsvRecord } from "../csv/csv-record-reader";
import type { Incident } from "../input/incident";
import {
  judgeRecord,
  type RejectedRow,
  type SubscriptionHeader,
  type SubscriptionRow,
} from "../input/subscription-row";
import { matchesWhere } from "../input/where";
import { clipTo, type Interval, unionOf } from "../interval/interval-set";
import { prorate } from "../money/rounding";
import { RULE_BY_NAME } from "../rules";
import type { PeriodUnits } from "../rules/period-units";
import { formatDay } from "../time/civil-date";
import { zonedClock } from "../time/zoned-clock";
import type { RefundLine } from "./refund-line";

/** The result for one subscription: its lines, and whether it was suspended at all (for goodwill). */
export interface SubscriptionResult {
  lines: RefundLine[];
  /** E = (union of the service's windows the row matches) ∩ [active_from, active_to) is non-empty. */
  suspended: boolean;
}

const NONE: SubscriptionResult = { lines: [], suspended: false };
const UNITS_MEMO_LIMIT = 100_000;

/**
 * Computes one subscription's refund lines for an incident.
 * Rows that share a service, zone, billing day and suspended pieces share the rule's work: typically all but
 * the few that start or end inside the window, so the rule runs a handful of times for a million rows.
 */
export class SubscriptionCalculator {
  private readonly memo = new Map<string, PeriodUnits[]>();
  /** A scoped service's merged windows per set of windows matched (by their indices). */
  private readonly matched = new Map<string, Interval[]>();

  constructor(readonly incident: Incident) {}

  compute(row: SubscriptionRow): SubscriptionResult {
    const windows = this.windowsOf(row);
    if (!windows) return NONE;
    const pieces = clipTo(windows, row.activeFrom, row.activeTo);
    if (pieces.length === 0) return NONE;
    const perPeriod = this.unitsFor(row, pieces);
    const lines = perPeriod.map((p) =>
      periodLine(
        row,
        row.serviceCode,
        p,
        prorate(row.monthlyFee, p.units, p.basis, this.incident.rounding),
        row.currency,
      ),
    );
    return { lines, suspended: true };
  }

  /**
   * The merged windows of the row's service that apply to it: all of them, or, for a service whose windows have a
   * `where` (contract v2), only those the row matches, merged for it alone (so full-24h blocks re-anchor at the
   * start of each piece of its own windows). Undefined for a service no window names.
   */
  windowsOf(row: Pick<SubscriptionRow, "serviceCode" | "cells">): Interval[] | undefined {
    const scoped = this.incident.scopedWindows.get(row.serviceCode);
    if (!scoped) return this.incident.windows.get(row.serviceCode);
    // Keyed by the service's length first: a service "V|0" matching nothing is not "V" matching window 0.
    let key = `${row.serviceCode.length}:${row.serviceCode}`;
    const mine: Interval[] = [];
    scoped.forEach((w, i) => {
      if (w.where && !matchesWhere(w.where, row.cells)) return;
      key += `|${i}`;
      mine.push(w);
    });
    let merged = this.matched.get(key);
    if (!merged) {
      merged = unionOf(mine);
      this.matched.set(key, merged);
    }
    return merged;
  }

  /** What the rule counts, per billing period, for suspended `pieces` in a zone and billing day (memoised). */
  unitsFor(row: Pick<SubscriptionRow, "zone" | "billingDay">, pieces: readonly Interval[]): PeriodUnits[] {
    let key = `${row.zone}|${row.billingDay}`;
    for (const p of pieces) key += `|${p.start},${p.end}`;
    let units = this.memo.get(key);
    if (!units) {
      units = RULE_BY_NAME[this.incident.rule](pieces, {
        clock: zonedClock(row.zone),
        billingDay: row.billingDay,
        dayBasis: this.incident.dayBasis,
      });
      if (this.memo.size >= UNITS_MEMO_LIMIT) this.memo.clear();
      this.memo.set(key, units);
    }
    return units;
  }
}

/**
 * The refund line a subscription owes for one billing period: what the rule counted there (`p`) and its amount.
 * The one place a period becomes a line, for both engines and the pipeline's batches.
 */
export function periodLine(
  ids: Pick<RefundLine, "subscriptionId" | "subscriberId">,
  serviceCode: string,
  p: PeriodUnits,
  amount: bigint,
  currency: string,
): RefundLine {
  return {
    subscriptionId: ids.subscriptionId,
    subscriberId: ids.subscriberId,
    serviceCode,
    periodStart: formatDay(p.period.start),
    periodEnd: formatDay(p.period.end),
    unit: p.unit,
    units: p.units,
    basis: p.basis,
    amount,
    currency,
  };
}

/** How many rows a run or batch has judged: rows = computed + skipped + rejected. */
export interface RowCounts {
  rows: number;
  /** Valid rows of a service the incident names (whether or not they were suspended, or matched a `where`). */
  computed: number;
  /**
   * Valid rows of a service no window names: no refund line, not an error (under goodwill scope "active" such a
   * row can still credit its subscriber).
   */
  skipped: number;
  rejected: number;
}

/** What a record comes to. */
export type Judged =
  | { kind: "rejected"; reject: RejectedRow }
  | { kind: "skipped"; row: SubscriptionRow }
  | { kind: "computed"; row: SubscriptionRow; result: SubscriptionResult };

/**
 * Judges one record after the header, computes it when it is valid and of a service the incident names, and
 * counts it: where the engines and the pipeline's batches account for a record (a plain line the byte path takes
 * is counted alike by `PlainRows.countTaken`).
 */
export function judgeAndCompute(
  record: CsvRecord,
  header: SubscriptionHeader,
  calculator: SubscriptionCalculator,
  isDuplicate: (id: string) => boolean,
  counts: RowCounts,
): Judged {
  const { incident } = calculator;
  counts.rows++;
  const checked = judgeRecord(record, header, incident.timeZone, isDuplicate);
  if (!checked.ok) {
    counts.rejected++;
    return { kind: "rejected", reject: checked.reject };
  }
  if (!incident.windows.has(checked.row.serviceCode)) {
    counts.skipped++;
    return { kind: "skipped", row: checked.row };
  }
  counts.computed++;
  return { kind: "computed", row: checked.row, result: calculator.compute(checked.row) };
}
