import { describe, expect, it } from "vitest";
import { parseRunRequest, RunRequestError } from "../../../shared/api/run-request";
import { incidentDoc } from "../../helpers/factories";

const body = (incident: unknown) => ({
  requestId: "req-1",
  reason: "sp-mode refunds",
  snapshot: { bucket: "hiwari-runs", key: "snapshots/2011-12/subs.csv" },
  incident,
});
const problemsOf = (incident: unknown) => {
  try {
    parseRunRequest("test-incident", body(incident));
  } catch (e) {
    if (e instanceof RunRequestError) return e.problems;
    throw e;
  }
  throw new Error("the request was accepted");
};

describe("parseRunRequest and contract v2 scope", () => {
  it('refuses an incident that uses where or goodwill scope "active", naming each field', () => {
    const window = { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" };
    const scoped = incidentDoc({
      suspensions: [{ ...window, where: { plan: ["voice-only"] } }] as never,
      goodwill: { amount: 200, currency: "JPY", scope: "active" } as never,
    });
    const why =
      'the run pipeline does not apply contract v2 scope (where, goodwill scope "active") yet: use hiwari compute';
    expect(problemsOf(scoped)).toEqual([`incident.suspensions[0].where: ${why}`, `incident.goodwill.scope: ${why}`]);
  });

  it("names an invalid where by its path inside the incident", () => {
    expect(problemsOf(incidentDoc({ goodwill: { amount: 1, currency: "JPY", where: {} } as never }))).toEqual([
      "incident.goodwill.where: must name at least one column",
    ]);
  });

  it('accepts a v1 incident, and goodwill scope "refunded" written out', () => {
    const v1 = incidentDoc({ goodwill: { amount: 200, currency: "JPY", scope: "refunded" } as never });
    expect(parseRunRequest("test-incident", body(v1)).incident.goodwill?.scope).toBe("refunded");
  });
});
