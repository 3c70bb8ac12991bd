import { describe, expect, it } from "vitest";
import { maskId, maskIdentifiers } from "../../../../functions/commons/powertools/mask-identifiers";

describe("maskId", () => {
  it("keeps the last two characters of an id longer than five, counting code points", () => {
    expect(maskId("090-1234-5678")).toBe("***78");
    expect(maskId("C-00042")).toBe("***42");
    expect(maskId("加入者番号一二三")).toBe("***二三");
    expect(maskId("C-001")).toBe("***");
    expect(maskId("")).toBe("***");
  });
});

describe("maskIdentifiers", () => {
  it("masks id-named attributes at any depth of a log line, and leaves the rest", () => {
    const line = {
      runId: "run-081a23e5ea21bd36f9b6",
      batchNo: 3,
      rejected: { line: 12, subscriptionId: "C-000123", field: "monthly_fee" },
      subscriberIds: ["S-000001", 7],
      lineId: "inc#S#C-000123#2011-12-01",
      Keys: { pk: { S: "inc#S#C-000123" } },
      Detail: '{"subscriberId":"S-000001"}',
      detail: { kind: "an object, not PutEvents' text" },
      subscription_id: null,
    };

    const masked = JSON.parse(JSON.stringify(line, maskIdentifiers));

    expect(masked).toEqual({
      runId: "run-081a23e5ea21bd36f9b6",
      batchNo: 3,
      rejected: { line: 12, subscriptionId: "***23", field: "monthly_fee" },
      subscriberIds: ["***01", "***"],
      lineId: "***01",
      Keys: "***",
      Detail: "***",
      detail: { kind: "an object, not PutEvents' text" },
      subscription_id: null,
    });
  });
});
