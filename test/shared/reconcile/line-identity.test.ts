import { describe, expect, it } from "vitest";
import { lineGroupOf, lineIdOf } from "../../../shared/reconcile/line-identity";

describe("line identity", () => {
  it("percent-encodes ids, so # only ever separates", () => {
    expect(lineIdOf("inc", { subscriptionId: "C#1", subscriberId: "S", periodStart: "2011-12-01" })).toBe(
      "inc#S#C%231#2011-12-01",
    );
    expect(lineGroupOf("inc", { subscriptionId: null, subscriberId: "S 1" })).toBe("inc#G#S%201");
  });

  it("turns the invalid-UTF-8 marker of a rejected row's id into U+FFFD instead of throwing", () => {
    expect(lineGroupOf("inc", { subscriptionId: null, subscriberId: "S-\uDFFF" })).toBe("inc#G#S-%EF%BF%BD");
    expect(lineGroupOf("inc", { subscriptionId: "C-😀", subscriberId: "" })).toBe("inc#S#C-%F0%9F%98%80");
  });
});
