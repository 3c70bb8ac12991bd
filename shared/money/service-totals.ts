/** Lines and amount of one (service, currency); goodwill lines are under service `null`. */
export interface ServiceTotal {
  serviceCode: string | null;
  currency: string;
  lines: number;
  amount: bigint;
}

/**
 * Totals per (service, currency), in exact minor units: what a run's summary, a batch and finalize all report.
 * `list()` sorts by service (goodwill last), then currency.
 */
export class ServiceTotals {
  private readonly byKey = new Map<string, ServiceTotal>();

  add(serviceCode: string | null, currency: string, lines: number, amount: bigint): void {
    const key = `${serviceCode ?? ""}\u0000${currency}`;
    const total = this.byKey.get(key);
    if (total) {
      total.lines += lines;
      total.amount += amount;
    } else {
      this.byKey.set(key, { serviceCode, currency, lines, amount });
    }
  }

  list(): ServiceTotal[] {
    // localeCompare for people's order; code units break its ties (it finds some different codes equal), so the
    // order never depends on the order totals were added in.
    const byText = (a: string, b: string) => a.localeCompare(b) || (a < b ? -1 : a > b ? 1 : 0);
    return [...this.byKey.values()].sort(
      (a, b) => byText(a.serviceCode ?? "\uffff", b.serviceCode ?? "\uffff") || byText(a.currency, b.currency),
    );
  }

  /** The same, with amounts as decimal strings (for JSON records and events). */
  listAsText(): { serviceCode: string | null; currency: string; lines: number; amount: string }[] {
    return this.list().map((t) => ({ ...t, amount: t.amount.toString() }));
  }
}
