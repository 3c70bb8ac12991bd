import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fieldOf, leavesOf, NEW_INCIDENT, problemsOf, withFieldValues } from "../../../bin/console/incident-form";

const incident = {
  incidentId: "spmode-2011-12",
  title: "sp-mode メール",
  timeZone: "Asia/Tokyo",
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  suspensions: [
    { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" },
    { serviceCode: "DRIVENET", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" },
  ],
  goodwill: { amount: 200, currency: "JPY", where: { mail_victim: ["swapped"] } },
};

describe("leavesOf", () => {
  it("names every value by its contract path, in document order", () => {
    expect(leavesOf(incident).map((l) => l.path)).toEqual([
      "incidentId",
      "title",
      "timeZone",
      "policy.rule",
      "policy.dayBasis",
      "policy.rounding",
      "suspensions[0].serviceCode",
      "suspensions[0].start",
      "suspensions[0].end",
      "suspensions[1].serviceCode",
      "suspensions[1].start",
      "suspensions[1].end",
      "goodwill.amount",
      "goodwill.currency",
      "goodwill.where.mail_victim[0]",
    ]);
  });
});

describe("withFieldValues", () => {
  it("puts each field back at its path, a number field as a number", () => {
    const fields = new Map([
      ["suspensions[1].end", "2011-12-22T13:00:00+09:00"],
      ["goodwill.amount", "300"],
      ["policy.dayBasis", "30"],
    ]);
    const out = withFieldValues(incident, fields) as typeof incident;
    expect(out.suspensions[1]?.end).toBe("2011-12-22T13:00:00+09:00");
    expect(out.suspensions[0]?.end).toBe("2011-12-22T14:00:00+09:00");
    expect(out.goodwill.amount).toBe(300);
    // dayBasis was a string ("actual"): what is typed stays a string, and the schema names it
    expect(out.policy.dayBasis).toBe("30");
    expect(problemsOf(JSON.stringify(out))).toEqual([
      { path: "policy.dayBasis", message: 'must be the string "actual" or the number 30' },
    ]);
  });

  it("keeps a number field that is not a number as typed, for the schema to name", () => {
    const out = withFieldValues(incident, new Map([["goodwill.amount", "two hundred"]]));
    expect(problemsOf(JSON.stringify(out))).toEqual([
      { path: "goodwill.amount", message: "must be a positive integer in the currency's minor unit" },
    ]);
  });

  it("gives back the same document when every field is sent unchanged", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (doc) => {
        const fields = new Map(leavesOf(doc).map((l) => [l.path, l.value === null ? "" : String(l.value)]));
        const back = withFieldValues(doc, fields);
        expect(JSON.stringify(back)).toBe(JSON.stringify(doc));
      }),
    );
  });
});

describe("problemsOf and fieldOf", () => {
  it("finds nothing wrong with a valid incident", () => {
    expect(problemsOf(JSON.stringify(incident))).toEqual([]);
  });

  it("puts each problem at the field of its path, or the first field under it or its parent", () => {
    const doc = structuredClone(incident) as Record<string, unknown> & typeof incident;
    (doc.suspensions[1] as { end: string }).end = "2011-12-20T00:00:00+09:00";
    delete (doc.suspensions[0] as Partial<(typeof doc.suspensions)[0]>).serviceCode;
    const problems = problemsOf(JSON.stringify(doc));
    expect(problems).toEqual([
      { path: "suspensions[0].serviceCode", message: "is required" },
      { path: "suspensions[1].end", message: "must be later than start" },
    ]);
    const leaves = leavesOf(doc);
    // a missing value is shown at its window's first field; a wrong one at its own
    expect(problems.map((p) => fieldOf(p, leaves))).toEqual(["suspensions[0].start", "suspensions[1].end"]);
    expect(fieldOf({ path: "suspensions[1]", message: "x" }, leaves)).toBe("suspensions[1].serviceCode");
    expect(fieldOf({ path: "(the incident)", message: "x" }, leaves)).toBeUndefined();
  });

  it("finds the field of a problem under a key of any script (a where column named in Japanese)", () => {
    // a column's values must be a list
    const doc = { ...incident, goodwill: { ...incident.goodwill, where: { 被害区分: "swapped" } } };
    const problems = problemsOf(JSON.stringify(doc));
    expect(problems.map((p) => p.path)).toEqual(["goodwill.where.被害区分"]);
    expect(fieldOf(problems[0] as (typeof problems)[0], leavesOf(doc))).toBe("goodwill.where.被害区分");
  });

  it("says what is wrong with the empty new incident: its id and service are needed", () => {
    expect(problemsOf(JSON.stringify(NEW_INCIDENT)).map((p) => p.path)).toEqual([
      "incidentId",
      "suspensions[0].serviceCode",
    ]);
  });

  it("names JSON that does not parse", () => {
    expect(problemsOf("{")).toEqual([{ path: "(the incident)", message: expect.stringMatching(/^not valid JSON: /) }]);
  });
});
