import type { BillingPeriod } from "../time/billing-period";

/** What a rule measures in one billing period: `units` of suspension out of `basis`. */
export interface PeriodUnits {
  period: BillingPeriod;
  unit: "day" | "second";
  units: number;
  basis: number;
}

/** Accumulates units per billing period (keyed by the period's first day), then caps each at its basis. */
export class PeriodTally {
  private readonly byStart = new Map<number, { period: BillingPeriod; units: number }>();

  add(period: BillingPeriod, units: number): void {
    const entry = this.byStart.get(period.start);
    if (entry) entry.units += units;
    else this.byStart.set(period.start, { period, units });
  }

  /** Periods with units > 0, in date order, with `units` capped at the basis. */
  finish(unit: PeriodUnits["unit"], basisOf: (period: BillingPeriod) => number): PeriodUnits[] {
    const out: PeriodUnits[] = [];
    for (const { period, units } of this.byStart.values()) {
      if (units <= 0) continue;
      const basis = basisOf(period);
      out.push({ period, unit, units: Math.min(units, basis), basis });
    }
    return out.sort((a, b) => a.period.start - b.period.start);
  }
}
