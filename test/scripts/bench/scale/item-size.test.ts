import { describe, expect, it } from "vitest";
import { toItem } from "../../../../functions/commons/dynamodb/line-item";
import { itemBytes, valueBytes } from "../../../../scripts/bench/scale/item-size";

describe("itemBytes", () => {
  it("counts each attribute's name and value as DynamoDB does: UTF-8 strings, numbers by significant digits", () => {
    expect(valueBytes({ S: "abc" })).toBe(3);
    expect(valueBytes({ S: "日割り" })).toBe(9);
    expect(valueBytes({ N: "123" })).toBe(3); // two digits a byte, rounded up, plus one
    expect(valueBytes({ N: "1000" })).toBe(2); // trailing zeroes trimmed
    expect(valueBytes({ N: "-12" })).toBe(3);
    expect(valueBytes({ NULL: true })).toBe(1);
    expect(valueBytes({ L: [{ S: "ab" }, { N: "1" }] })).toBe(3 + (1 + 2) + (1 + 2));
    expect(itemBytes({ pk: { S: "abc" }, n: { N: "123" }, z: { NULL: true } })).toBe(2 + 3 + 1 + 3 + 1 + 1);
  });

  it("sizes a refund line's item as the sum over its attributes", () => {
    const item = toItem(
      "kddi-2022-07",
      {
        lineId: "kddi-2022-07#S#L-1#2022-07-01",
        subscriptionId: "L-1",
        subscriberId: "K-1",
        serviceCode: "AU-BASIC",
        periodStart: "2022-07-01",
        periodEnd: "2022-08-01",
        unit: "day",
        units: 2,
        basis: 30,
        amount: 110n,
        currency: "JPY",
        version: 1,
        status: "active",
        runId: "run-00000000000000000000",
      },
      "2022-07-05T00:00:00.000Z",
    );
    const expected = Object.entries(item).reduce((sum, [name, value]) => sum + name.length + valueBytes(value), 0);
    expect(itemBytes(item)).toBe(expected);
    expect(itemBytes(item)).toBeGreaterThan(300);
  });
});
