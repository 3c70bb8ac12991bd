import { describe, expect, it } from "vitest";
import { IncidentError, parseIncident, parseIncidentText } from "../../../shared/input/incident";
import { incidentDoc } from "../../helpers/factories";

function problemsOf(document: unknown): string[] {
  try {
    parseIncident(document);
  } catch (e) {
    if (e instanceof IncidentError) return e.problems;
    throw e;
  }
  throw new Error("the incident was accepted");
}

const window = (start: string, end: string, serviceCode = "IMADOKO") => ({ serviceCode, start, end });

describe("parseIncident", () => {
  it("accepts the contract's example and merges each service's windows", () => {
    const incident = parseIncident(
      incidentDoc({
        title: "sp-mode",
        goodwill: { amount: 200, currency: "JPY" },
        suspensions: [
          window("2011-12-21T12:00:00+09:00", "2011-12-22T14:00:00+09:00"),
          window("2011-12-20T23:30:00+09:00", "2011-12-21T12:00:00+09:00"),
          window("2011-12-20T00:00:00Z", "2011-12-20T01:00:00Z", "DRIVENET"),
        ],
      }),
    );
    expect(incident.windows.get("IMADOKO")).toEqual([{ start: 1324391400, end: 1324530000 }]);
    expect(incident.windows.get("DRIVENET")).toHaveLength(1);
    expect(incident.goodwill).toEqual({ amount: 200n, currency: "JPY" });
  });

  it("takes zone names in any case and links, and ignores unknown keys", () => {
    expect(parseIncident({ ...incidentDoc({ timeZone: "asia/tokyo" }), extra: 1 }).timeZone).toBe("Asia/Tokyo");
    expect(parseIncident(incidentDoc({ timeZone: "Japan" })).timeZone).toBe("Japan");
  });

  it.each([
    [
      "a bad incidentId",
      incidentDoc({ incidentId: "bad id!" }),
      "incidentId: must be 1–64 characters of A-Z a-z 0-9 . _ -",
    ],
    [
      "an incidentId of 65 characters",
      incidentDoc({ incidentId: "x".repeat(65) }),
      "incidentId: must be 1–64 characters of A-Z a-z 0-9 . _ -",
    ],
    ["a title of 201 characters", incidentDoc({ title: "t".repeat(201) }), "title: must be at most 200 characters"],
    [
      "an abbreviation as zone",
      incidentDoc({ timeZone: "JST" }),
      'timeZone: "JST" is not a time zone of the tz database (IANA)',
    ],
    [
      "an offset as zone",
      incidentDoc({ timeZone: "+09:00" }),
      'timeZone: "+09:00" is not a time zone of the tz database (IANA)',
    ],
    [
      "an unknown rule",
      incidentDoc({ policy: { rule: "hourly" as never } }),
      'policy.rule: must be one of "calendar-day", "full-24h", "exact"',
    ],
    [
      'dayBasis as the string "30"',
      incidentDoc({ policy: { dayBasis: "30" as never } }),
      'policy.dayBasis: must be the string "actual" or the number 30',
    ],
    [
      "dayBasis 31",
      incidentDoc({ policy: { dayBasis: 31 as never } }),
      'policy.dayBasis: must be the string "actual" or the number 30',
    ],
    [
      "an unknown rounding",
      incidentDoc({ policy: { rounding: "up" as never } }),
      'policy.rounding: must be one of "floor", "ceil", "half-up", "half-even"',
    ],
    ["no windows", incidentDoc({ suspensions: [] }), "suspensions: must hold at least one window"],
    [
      "an empty window",
      incidentDoc({
        suspensions: [
          window("2011-12-20T00:00:00Z", "2011-12-21T00:00:00Z"),
          window("2011-12-22T00:00:00Z", "2011-12-22T00:00:00Z"),
        ],
      }),
      "suspensions[1].end: must be later than start",
    ],
    [
      "a date-only start",
      incidentDoc({ suspensions: [window("2011-12-20", "2011-12-21T00:00:00Z")] }),
      'suspensions[0].start: must be an instant YYYY-MM-DDThh:mm:ss followed by Z or ±hh:mm (got "2011-12-20")',
    ],
    [
      "fractional seconds",
      incidentDoc({ suspensions: [window("2011-12-20T00:00:00Z", "2011-12-21T00:00:00.000Z")] }),
      'suspensions[0].end: must be an instant YYYY-MM-DDThh:mm:ss followed by Z or ±hh:mm (got "2011-12-21T00:00:00.000Z")',
    ],
    [
      "an empty serviceCode",
      incidentDoc({ suspensions: [window("2011-12-20T00:00:00Z", "2011-12-21T00:00:00Z", "")] }),
      "suspensions[0].serviceCode: must not be empty",
    ],
    [
      "goodwill of 0",
      incidentDoc({ goodwill: { amount: 0, currency: "JPY" } }),
      "goodwill.amount: must be a positive integer in the currency's minor unit",
    ],
    [
      "goodwill of 1.5",
      incidentDoc({ goodwill: { amount: 1.5, currency: "JPY" } }),
      "goodwill.amount: must be a positive integer in the currency's minor unit",
    ],
    [
      "a goodwill currency that is no code",
      incidentDoc({ goodwill: { amount: 1, currency: "yen" } }),
      'goodwill.currency: "yen" is not an ISO 4217 currency code',
    ],
    ["a list instead of an object", [], "(the incident): must be a JSON object"],
  ])("refuses %s, naming the field", (_name, document, message) => {
    expect(problemsOf(document)).toEqual([message]);
  });

  it("names every missing field at once", () => {
    expect(problemsOf({})).toEqual([
      "incidentId: is required",
      "timeZone: is required",
      "policy: is required",
      "suspensions: is required",
    ]);
  });

  it("refuses text that is not JSON", () => {
    expect(() => parseIncidentText("{")).toThrow(/^not valid JSON: /);
  });
});
