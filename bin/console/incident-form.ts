import { formatPath, IncidentError, IncidentSchema, parseIncidentText } from "../../shared/input/incident";

/**
 * The incident form: every value of an incident document is a field named by its contract path
 * (`suspensions[1].end`), so that the schema's errors (zod, the same as `hiwari run`'s) land on the field they
 * name. Windows, policy, goodwill and scope (`where`) are all fields, because the form is made from the document;
 * what the document does not have yet (another window, a goodwill) is added in the JSON beside it.
 */

export type LeafValue = string | number | boolean | null;

export interface Leaf {
  path: string;
  value: LeafValue;
}

/** Every scalar of a JSON document with its path, in document order. */
export function leavesOf(document: unknown, path: PropertyKey[] = []): Leaf[] {
  if (Array.isArray(document)) return document.flatMap((v, i) => leavesOf(v, [...path, i]));
  if (document !== null && typeof document === "object")
    return Object.entries(document).flatMap(([k, v]) => leavesOf(v, [...path, k]));
  return [{ path: formatPath(path), value: document as LeafValue }];
}

/** A number as JSON writes it (not `0x10`, not `Infinity`). */
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * The document with the fields' values put back at their paths, each as the type it had (a number field stays a
 * number when it reads as one; anything else is kept as typed, for the schema to name). Paths not in the document
 * are ignored: the form cannot add what the document lacks.
 */
export function withFieldValues(document: unknown, fields: ReadonlyMap<string, string>): unknown {
  const walk = (value: unknown, path: PropertyKey[]): unknown => {
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value !== null && typeof value === "object")
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    const typed = fields.get(formatPath(path));
    if (typed === undefined) return value;
    if (typeof value === "number") return JSON_NUMBER.test(typed.trim()) ? Number(typed.trim()) : typed;
    if (typeof value === "boolean") return typed === "true";
    if (value === null) return typed.trim() === "" ? null : typed;
    return typed;
  };
  return walk(document, []);
}

/** The path of the incident itself. */
const WHOLE = formatPath([]);

/** A problem of the incident at its contract path. */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * What is wrong with an incident's text, each problem at its path (zod's path, formatted as the leaves' are, so
 * that any key matches its field); empty when `hiwari run` would take it (the same schema).
 */
export function problemsOf(text: string): FieldProblem[] {
  try {
    parseIncidentText(text);
    return [];
  } catch (e) {
    if (!(e instanceof IncidentError)) throw e;
    // Not JSON, or too large: about the whole incident. Else the schema's issues, with their paths.
    const whole = e.problems.map((message) => ({ path: WHOLE, message }));
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      return whole;
    }
    const result = IncidentSchema.safeParse(document);
    return result.success ? whole : result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
  }
}

/** The path one level up: `suspensions[1]` of `suspensions[1].end`, `suspensions` of `suspensions[1]`. */
const parentOf = (path: string) => path.replace(/(\.[^.[]*|\[\d+\])$/, "");

/**
 * The field a problem is shown at: the field of its path, else the first field under it, else under its parent
 * (a window missing its `end` is shown at the window's first field); undefined when none is (it is shown above the
 * form, and in the JSON).
 */
export function fieldOf(problem: FieldProblem, leaves: readonly Leaf[]): string | undefined {
  for (let path = problem.path; path !== "" && path !== WHOLE; ) {
    const found =
      leaves.find((l) => l.path === path) ??
      leaves.find((l) => l.path.startsWith(`${path}.`) || l.path.startsWith(`${path}[`));
    if (found) return found.path;
    const up = parentOf(path);
    if (up === path) break;
    path = up;
  }
  return undefined;
}

/** The document a new incident starts from: one window of one service, the policy, no goodwill. */
export const NEW_INCIDENT = {
  incidentId: "",
  title: "",
  timeZone: "Asia/Tokyo",
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  suspensions: [{ serviceCode: "", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" }],
};
