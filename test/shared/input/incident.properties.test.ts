import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IncidentError, MAX_INCIDENT_BYTES, parseIncidentText } from "../../../shared/input/incident";
import { isCurrencyCode } from "../../../shared/money/currency";
import { resolveTimeZone } from "../../../shared/time/time-zone";

// Malformed incidents, fuzzed: a valid incident with one field (top-level or nested) replaced by a wrong value of
// every JSON type, a wrong string, or nothing at all; the whole document as another type, as text that is not
// JSON, and too large. parseIncidentText must throw IncidentError, never anything else, and every problem it
// lists must name the field that was broken, quoting no more than a short piece of the value.

/** The sample incident: two services, goodwill, every optional field present. */
const VALID = JSON.parse(readFileSync("examples/spmode-2011/incident.json", "utf8")) as Record<string, unknown>;

/** The key taken away: a required field left out. */
const MISSING = Symbol("missing");
/** A long string, made only when a case uses it (and shown short when a case fails). */
class Huge {
  constructor(
    readonly unit: string,
    readonly length: number,
  ) {}
  text(): string {
    return this.unit.repeat(this.length);
  }
  [fc.toStringMethod](): string {
    return `${JSON.stringify(this.unit)} × ${this.length.toLocaleString("en-US")}`;
  }
}
type Wrong = unknown;

const json = fc.jsonValue({ maxDepth: 2 });
const notA = (type: "string" | "object" | "array") =>
  json.filter((v) =>
    type === "array"
      ? !Array.isArray(v)
      : type === "object"
        ? v === null || typeof v !== "object" || Array.isArray(v)
        : typeof v !== "string",
  );
/** Strings that are not instants in the contract's form: wrong shape, impossible dates and times, stray spaces. */
const BAD_INSTANTS = [
  "",
  "2011-12-20",
  "2011-12-20T23:30:00",
  "2011-12-20T23:30:00.000Z",
  "2011-12-20 23:30:00Z",
  "2011-12-20T23:30Z",
  "2011-12-20t23:30:00z",
  "2011-13-20T00:00:00Z",
  "2011-02-30T00:00:00Z",
  "0000-01-01T00:00:00Z",
  "2011-12-20T24:00:00Z",
  "2011-12-20T23:60:00Z",
  "2011-12-20T23:30:60Z",
  "2011-12-20T23:30:00+24:00",
  "2011-12-20T23:30:00+0900",
  " 2011-12-20T23:30:00Z",
];
// Large, yet well under the file limit.
const wrongString = (...values: string[]) => fc.constantFrom<string | Huge>(...values, new Huge("x", 300_000));

/** A field of the valid incident, the path its problems must name, and the wrong values it may take. */
interface Target {
  path: (string | number)[];
  named: string;
  wrong: fc.Arbitrary<Wrong>;
}
const windowTargets = (i: number): Target[] => [
  {
    path: ["suspensions", i],
    named: `suspensions[${i}]`,
    wrong: fc.oneof(notA("object"), fc.constant([])),
  },
  {
    path: ["suspensions", i, "serviceCode"],
    named: `suspensions[${i}].serviceCode`,
    wrong: fc.oneof(notA("string"), fc.constant(""), fc.constant(MISSING)),
  },
  ...(["start", "end"] as const).map((key) => ({
    path: ["suspensions", i, key],
    named: `suspensions[${i}].${key}`,
    wrong: fc.oneof(
      notA("string"),
      fc.constantFrom<string | Huge>(...BAD_INSTANTS, new Huge("2", 100_000)),
      fc.constant(MISSING),
    ),
  })),
  // A real instant in the wrong place: the window is empty, and the problem is said of its end.
  {
    path: ["suspensions", i, "start"],
    named: `suspensions[${i}].end`,
    wrong: fc.constantFrom("2011-12-22T14:00:00+09:00", "2011-12-22T05:00:00Z", "2012-01-01T00:00:00Z"),
  },
  {
    path: ["suspensions", i, "end"],
    named: `suspensions[${i}].end`,
    wrong: fc.constantFrom("2011-12-20T23:30:00+09:00", "2011-12-20T14:29:59Z", "2001-01-01T00:00:00-12:00"),
  },
];
const TARGETS: Target[] = [
  {
    path: ["incidentId"],
    named: "incidentId",
    wrong: fc.oneof(
      notA("string"),
      wrongString("", "x".repeat(65), "bad id", "a/b", "é", "id\n", "spmode:2011"),
      fc.string().filter((s) => !/^[A-Za-z0-9._-]{1,64}$/.test(s)),
      fc.constant(MISSING),
    ),
  },
  {
    path: ["title"],
    named: "title",
    wrong: fc.oneof(notA("string"), wrongString("t".repeat(201), "\u{1F3FF}".repeat(201))),
  },
  {
    path: ["timeZone"],
    named: "timeZone",
    wrong: fc.oneof(
      notA("string"),
      wrongString("", "JST", "+09:00", "GMT+9", " Asia/Tokyo", "Asia/Tokyo ", "Asia/Tokio", "Asia/Tokyo\u0000"),
      fc.string().filter((s) => resolveTimeZone(s) === undefined),
      fc.constant(MISSING),
    ),
  },
  { path: ["policy"], named: "policy", wrong: fc.oneof(notA("object"), fc.constant([]), fc.constant(MISSING)) },
  {
    path: ["policy", "rule"],
    named: "policy.rule",
    wrong: fc.oneof(
      notA("string"),
      wrongString("", "Calendar-Day", "calendar_day", "hourly", " exact"),
      fc.constant(MISSING),
    ),
  },
  {
    path: ["policy", "dayBasis"],
    named: "policy.dayBasis",
    wrong: fc.oneof(
      json.filter((v) => v !== "actual" && v !== 30),
      fc.constantFrom("30", 31, 30.5, 0, -30, "Actual", " actual", 1e300),
      fc.constant(MISSING),
    ),
  },
  {
    path: ["policy", "rounding"],
    named: "policy.rounding",
    wrong: fc.oneof(notA("string"), wrongString("", "FLOOR", "round", "half_up", "banker"), fc.constant(MISSING)),
  },
  {
    path: ["suspensions"],
    named: "suspensions",
    wrong: fc.oneof(notA("array"), fc.constant([]), fc.constant(MISSING)),
  },
  ...windowTargets(0),
  ...windowTargets(1),
  { path: ["goodwill"], named: "goodwill", wrong: fc.oneof(notA("object"), fc.constant([])) },
  {
    path: ["goodwill", "amount"],
    named: "goodwill.amount",
    wrong: fc.oneof(
      json.filter((v) => !(typeof v === "number" && Number.isSafeInteger(v) && v > 0)),
      fc.constantFrom(0, -1, 1.5, "200", 2 ** 53, 1e300, -0),
      fc.constant(MISSING),
    ),
  },
  {
    path: ["goodwill", "currency"],
    named: "goodwill.currency",
    wrong: fc.oneof(
      notA("string"),
      wrongString("", "jpy", "JP", "JPYY", " JPY", "YEN"),
      fc.stringMatching(/^[A-Z]{3}$/).filter((s) => !isCurrencyCode(s)),
      fc.constant(MISSING),
    ),
  },
];

/** The valid incident with the value at `path` replaced (or taken away). */
function broken(path: (string | number)[], value: Wrong): unknown {
  const document = structuredClone(VALID) as Record<string | number, unknown>;
  let parent = document;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  if (value === MISSING) delete parent[last];
  else parent[last] = value instanceof Huge ? value.text() : value;
  return document;
}

/** The IncidentError that parsing `text` throws (failing the test if it throws anything else, or nothing). */
function refusalOf(text: string): IncidentError {
  try {
    parseIncidentText(text);
  } catch (e) {
    expect(e).toBeInstanceOf(IncidentError);
    return e as IncidentError;
  }
  throw new Error(`accepted: ${text.slice(0, 200)}`);
}

describe("parseIncidentText on malformed incidents (property-based)", () => {
  it("accepts the valid incident the mutations start from", () => {
    expect(parseIncidentText(JSON.stringify(VALID)).incidentId).toBe("spmode-2011-12");
  });

  it("refuses any field made wrong, naming that field in every problem, with a short message", () => {
    const caseArb = fc
      .nat(TARGETS.length - 1)
      .chain((k) => fc.tuple(fc.constant(TARGETS[k] as Target), (TARGETS[k] as Target).wrong));
    fc.assert(
      fc.property(caseArb, ([target, value]) => {
        const error = refusalOf(JSON.stringify(broken(target.path, value)));
        expect(error.problems.length).toBeGreaterThan(0);
        for (const problem of error.problems) {
          expect(problem.startsWith(`${target.named}: `), problem.slice(0, 200)).toBe(true);
          expect(problem.length).toBeLessThan(200);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a document that is no object, naming the incident as a whole", () => {
    fc.assert(
      fc.property(notA("object"), (value) => {
        expect(refusalOf(JSON.stringify(value)).problems).toEqual(["(the incident): must be a JSON object"]);
      }),
      { numRuns: 100 },
    );
  });

  it("refuses text that is not JSON as such, quoting no more than a piece of it", () => {
    const notJson = fc.oneof(
      fc.constantFrom("", "{", "{'incidentId': 'x'}", '{"incidentId": }', '{"a":1,}', "nul", "\uFEFF{}", "{}}"),
      fc.string().filter((s) => {
        try {
          JSON.parse(s);
          return false;
        } catch {
          return true;
        }
      }),
      fc.constant(new Huge("x", 500_000)), // inside a string never closed: half a megabyte of text
    );
    fc.assert(
      fc.property(notJson, (text) => {
        const { problems } = refusalOf(text instanceof Huge ? `{"title": "${text.text()}` : text);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(/^not valid JSON: /);
        expect((problems[0] as string).length).toBeLessThan(300);
      }),
      { numRuns: 100 },
    );
  });

  it("refuses an incident larger than 1 MiB before parsing it, however it is made so large", () => {
    const tooLarge: Record<string, () => string> = {
      "valid JSON, padded": () => JSON.stringify(VALID) + " ".repeat(MAX_INCIDENT_BYTES),
      "a long title": () => JSON.stringify({ ...VALID, title: "x".repeat(MAX_INCIDENT_BYTES) }),
      "fewer characters than the limit, more bytes": () =>
        JSON.stringify({ ...VALID, title: "日".repeat(MAX_INCIDENT_BYTES / 3) }),
      "one byte too many, nested and never closed": () => "[".repeat(MAX_INCIDENT_BYTES + 1),
    };
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(tooLarge)), (name) => {
        expect(refusalOf((tooLarge[name] as () => string)()).problems).toEqual([
          "the file is larger than 1 MiB (1,048,576 bytes), the most an incident may hold",
        ]);
      }),
      { numRuns: 20 },
    );
  });

  it("refuses arrays nested half a million deep, under the limit, as no object", () => {
    const depth = 500_000;
    expect(refusalOf(`${"[".repeat(depth)}${"]".repeat(depth)}`).problems).toEqual([
      "(the incident): must be a JSON object",
    ]);
    const nestedTitle = JSON.stringify({ ...VALID, title: "@" }).replace(
      '"@"',
      `${"[".repeat(depth)}${"]".repeat(depth)}`,
    );
    expect(refusalOf(nestedTitle).problems).toEqual(["title: must be a string"]);
  });
});
