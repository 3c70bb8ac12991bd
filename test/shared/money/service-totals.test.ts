import { describe, expect, it } from "vitest";
import { ServiceTotals } from "../../../shared/money/service-totals";

describe("ServiceTotals", () => {
  it("sums lines and exact amounts per service and currency, goodwill last", () => {
    const totals = new ServiceTotals();
    totals.add(null, "JPY", 1, 200n);
    totals.add("IMADOKO", "USD", 1, 7n);
    totals.add("IMADOKO", "JPY", 2, 10n ** 30n);
    totals.add("DRIVENET", "JPY", 1, 30n);
    totals.add("IMADOKO", "JPY", 1, 20n);
    totals.add(null, "JPY", 1, 200n);
    expect(totals.listAsText()).toEqual([
      { serviceCode: "DRIVENET", currency: "JPY", lines: 1, amount: "30" },
      { serviceCode: "IMADOKO", currency: "JPY", lines: 3, amount: "1000000000000000000000000000020" },
      { serviceCode: "IMADOKO", currency: "USD", lines: 1, amount: "7" },
      { serviceCode: null, currency: "JPY", lines: 2, amount: "400" },
    ]);
  });

  it("lists codes that collate as equal in one order, whatever the order they were added in", () => {
    const codes = ["A", "A\u200b", "B"];
    const listed = (order: string[]) => {
      const totals = new ServiceTotals();
      for (const code of order) totals.add(code, "JPY", 1, 1n);
      return totals.list().map((t) => t.serviceCode);
    };
    expect(listed(codes)).toEqual(listed([...codes].reverse()));
  });
});
