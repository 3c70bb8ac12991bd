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
    expect(incident.goodwill).toEqual({ amount: 200n, currency: "JPY", scope: "refunded" });
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

describe("parseIncident: contract v2 scope (where, goodwill.scope)", () => {
  const scopedWindow = (where: unknown) => ({
    ...window("2011-12-20T23:30:00+09:00", "2011-12-22T14:00:00+09:00"),
    where,
  });
  const onWindow = (where: unknown) => incidentDoc({ suspensions: [scopedWindow(where)] as never });
  const onGoodwill = (extra: object) => incidentDoc({ goodwill: { amount: 200, currency: "JPY", ...extra } } as never);
  const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, ["x"]]));

  it("accepts a where on windows and goodwill and a scope, counting lengths in code points", () => {
    const incident = parseIncident({
      ...onGoodwill({ scope: "active", where: { victims: ["yes", ""] } }),
      suspensions: [scopedWindow({ ["🙂".repeat(64)]: ["🙂".repeat(128)], ...keys(15) })],
    });
    expect(incident.goodwill).toMatchObject({ scope: "active", where: new Map([["victims", new Set(["yes", ""])]]) });
    expect(incident.wheres.map((w) => w.path)).toEqual(["suspensions[0].where", "goodwill.where"]);
    expect(incident.scopedWindows.get("IMADOKO")).toHaveLength(1);
    expect(incident.span).toEqual({ start: 1324391400, end: 1324530000 });
    expect(parseIncident(onWindow({ plan: Array(1000).fill("x") })).wheres).toHaveLength(1);
  });

  it.each([
    [
      "a where that is a string",
      onWindow("voice-only"),
      "suspensions[0].where: must be an object: extra column → list of strings",
    ],
    ["a where that is null", onWindow(null), "suspensions[0].where: must be an object: extra column → list of strings"],
    [
      "a where that is a list",
      onGoodwill({ where: [] }),
      "goodwill.where: must be an object: extra column → list of strings",
    ],
    ["an empty where", onWindow({}), "suspensions[0].where: must name at least one column"],
    ["an empty key", onGoodwill({ where: { "": ["x"] } }), "goodwill.where: a column name must not be empty"],
    [
      "a key of 65 code points",
      onWindow({ ["é".repeat(65)]: ["x"] }),
      `suspensions[0].where: the column name "${"é".repeat(40)}…" is longer than 64 characters`,
    ],
    [
      "a key that is a contract column",
      onGoodwill({ where: { currency: ["JPY"] } }),
      "goodwill.where.currency: is one of the nine contract columns: a where names only extra columns",
    ],
    ["an empty list", onWindow({ plan: [] }), "suspensions[0].where.plan: must hold at least one string"],
    [
      "a value that is no list",
      onWindow({ plan: "x" }),
      "suspensions[0].where.plan: must be a non-empty list of strings",
    ],
    ["a value that is not a string", onWindow({ plan: ["a", 1] }), "suspensions[0].where.plan[1]: must be a string"],
    [
      "a value of 129 code points",
      onWindow({ plan: ["🙂".repeat(129)] }),
      "suspensions[0].where.plan[0]: must be at most 128 characters",
    ],
    ["17 keys", onGoodwill({ where: keys(17) }), "goodwill.where: must name at most 16 columns (it names 17)"],
    [
      "1,001 values",
      onWindow({ plan: Array(1001).fill("x") }),
      "suspensions[0].where.plan: must hold at most 1,000 strings (it holds 1,001)",
    ],
    ["an unknown scope", onGoodwill({ scope: "everyone" }), 'goodwill.scope: must be one of "refunded", "active"'],
    ["a null scope", onGoodwill({ scope: null }), 'goodwill.scope: must be one of "refunded", "active"'],
  ])("refuses %s, naming the path", (_name, document, message) => {
    expect(problemsOf(document)).toEqual([message]);
  });
});
