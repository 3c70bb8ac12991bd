/**
 * One output line of the contract. The first ten fields, in this order, are the contract; goodwill lines carry
 * null for subscriptionId, serviceCode, periodStart and periodEnd, unit "goodwill", units and basis 1.
 */
export interface RefundLine {
  subscriptionId: string | null;
  subscriberId: string;
  serviceCode: string | null;
  periodStart: string | null;
  periodEnd: string | null;
  unit: "day" | "second" | "goodwill";
  units: number;
  basis: number;
  /** Integer minor units of `currency`. */
  amount: bigint;
  currency: string;
}

/** The contract's field order, for JSON and CSV output. */
export const LINE_FIELDS = [
  "subscriptionId",
  "subscriberId",
  "serviceCode",
  "periodStart",
  "periodEnd",
  "unit",
  "units",
  "basis",
  "amount",
  "currency",
] as const satisfies readonly (keyof RefundLine)[];
