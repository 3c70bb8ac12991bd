import { describe, expect, it } from "vitest";
import { parsePinnedS3Uri, parseRunRequest, RunRequestError, s3Uri } from "../../../shared/api/run-request";
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
  it('accepts an incident that uses where and goodwill scope "active" (the pipeline applies them)', () => {
    const window = { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" };
    const scoped = incidentDoc({
      suspensions: [{ ...window, where: { plan: ["voice-only"] } }] as never,
      goodwill: { amount: 200, currency: "JPY", scope: "active", where: { victim: ["yes"] } } as never,
    });
    const { incident } = parseRunRequest("test-incident", body(scoped));
    expect(incident.goodwill?.scope).toBe("active");
    expect(incident.wheres.map((w) => w.path)).toEqual(["suspensions[0].where", "goodwill.where"]);
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

describe("parsePinnedS3Uri (a recorded snapshot name, as an approval reads the previewed version again)", () => {
  it("reads back what s3Uri writes of a pinned object, and nothing of an unpinned one or a file's path", () => {
    const pinned = { bucket: "hiwari-runs", key: "snapshots/2011-12/subs.csv", versionId: "3/L4kqtJl+40=" };
    expect(parsePinnedS3Uri(s3Uri(pinned))).toEqual(pinned);
    expect(parsePinnedS3Uri("s3://hiwari-runs/snapshots/subs.csv")).toBeUndefined();
    expect(parsePinnedS3Uri("/home/finance/subs.csv")).toBeUndefined();
  });
});
