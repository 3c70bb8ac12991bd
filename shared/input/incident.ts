import * as z from "zod";
import { PermanentError } from "../errors";
import { type Interval, unionOf } from "../interval/interval-set";
import { isCurrencyCode } from "../money/currency";
import { ROUNDING_MODES, type RoundingMode } from "../money/rounding";
import { resolveTimeZone } from "../time/time-zone";
import { INSTANT_FORM, parseInstant } from "../time/timestamp";
import { shown } from "./subscription-row";
import { type PlacedWhere, type Where, WhereSchema } from "./where";

export const RULES = ["calendar-day", "full-24h", "exact"] as const;
export type RuleName = (typeof RULES)[number];
export type DayBasis = "actual" | 30;
export const GOODWILL_SCOPES = ["refunded", "active"] as const;
export type GoodwillScope = (typeof GOODWILL_SCOPES)[number];

/** One window of a service whose windows are scoped by a `where` (contract v2), as written. */
export interface ScopedWindow extends Interval {
  /** Absent: the window matches every row. */
  where?: Where;
}

/** An incident as it is used: validated, zone resolved, windows merged per service. */
export interface Incident {
  incidentId: string;
  title?: string;
  timeZone: string;
  rule: RuleName;
  dayBasis: DayBasis;
  rounding: RoundingMode;
  /** Per service code: the union of its windows, as sorted maximal pieces (epoch seconds). */
  windows: Map<string, Interval[]>;
  /**
   * Per service code any of whose windows has a `where` (contract v2): all of its windows, as written; a row's
   * windows are the ones it matches, merged for it alone. A service not here has the same `windows` for every row.
   */
  scopedWindows: Map<string, ScopedWindow[]>;
  /** `[earliest start, latest end)` over every window, whatever its `where`: goodwill scope "active" looks there. */
  span: Interval;
  /** Every `where` of the incident with its path, to check against the snapshot's header. */
  wheres: PlacedWhere[];
  goodwill?: { amount: bigint; currency: string; scope: GoodwillScope; where?: Where };
}

/** A zod error message that says "is required" when the value is missing and `message` otherwise. */
const or = (message: string) => (issue: { input: unknown }) => (issue.input === undefined ? "is required" : message);

const instant = z.string({ error: or(`must be a string: an instant ${INSTANT_FORM}`) }).superRefine((text, ctx) => {
  const parsed = parseInstant(text);
  if (!parsed.ok) ctx.addIssue({ code: "custom", message: `${parsed.reason} (got ${shown(text)})` });
});

const oneOf = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(", ");

/** The incident file's schema (zod): the single source of its rules and messages. */
export const IncidentSchema = z.object(
  {
    incidentId: z
      .string({ error: or("must be a string") })
      .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: "must be 1–64 characters of A-Z a-z 0-9 . _ -" }),
    title: z
      .string({ error: "must be a string" })
      .refine((t) => [...t].length <= 200, { error: "must be at most 200 characters" })
      .optional(),
    timeZone: z
      .string({ error: or("must be a string: a time zone name of the tz database") })
      .refine((name) => resolveTimeZone(name) !== undefined, {
        error: (issue) => `${shown(issue.input as string)} is not a time zone of the tz database (IANA)`,
      }),
    policy: z.object(
      {
        rule: z.enum(RULES, { error: or(`must be one of ${oneOf(RULES)}`) }),
        dayBasis: z.union([z.literal("actual"), z.literal(30)], {
          error: 'must be the string "actual" or the number 30',
        }),
        rounding: z.enum(ROUNDING_MODES, { error: or(`must be one of ${oneOf(ROUNDING_MODES)}`) }),
      },
      { error: or("must be an object with rule, dayBasis and rounding") },
    ),
    suspensions: z
      .array(
        z
          .object(
            {
              serviceCode: z.string({ error: or("must be a string") }).min(1, { error: "must not be empty" }),
              start: instant,
              end: instant,
              where: WhereSchema.optional(),
            },
            { error: "must be an object with serviceCode, start and end" },
          )
          .superRefine((w, ctx) => {
            const start = parseInstant(w.start);
            const end = parseInstant(w.end);
            if (start.ok && end.ok && end.value <= start.value) {
              ctx.addIssue({ code: "custom", path: ["end"], message: "must be later than start" });
            }
          }),
        { error: or("must be a list of windows") },
      )
      .min(1, { error: "must hold at least one window" }),
    goodwill: z
      .object(
        {
          amount: z
            .number({ error: or("must be a positive integer in the currency's minor unit") })
            .int({ error: "must be a positive integer in the currency's minor unit" })
            .positive({ error: "must be a positive integer in the currency's minor unit" })
            .max(Number.MAX_SAFE_INTEGER, { error: `must be at most ${Number.MAX_SAFE_INTEGER}` }),
          currency: z.string({ error: or("must be a string: an ISO 4217 code") }).refine(isCurrencyCode, {
            error: (issue) => `${shown(issue.input as string)} is not an ISO 4217 currency code`,
          }),
          scope: z.enum(GOODWILL_SCOPES, { error: `must be one of ${oneOf(GOODWILL_SCOPES)}` }).optional(),
          where: WhereSchema.optional(),
        },
        { error: "must be an object with amount and currency" },
      )
      .optional(),
  },
  { error: "must be a JSON object" },
);

export type IncidentInput = z.input<typeof IncidentSchema>;

/** Thrown for an incident that cannot be used; `problems` name each field path (`suspensions[1].end: …`). */
export class IncidentError extends PermanentError {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "IncidentError";
  }
}

/** `suspensions[1].end` from zod's path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out || "(the incident)";
}

/** Validates a parsed incident document and prepares it for the engine; throws IncidentError. */
export function parseIncident(document: unknown): Incident {
  const result = IncidentSchema.safeParse(document);
  if (!result.success) {
    throw new IncidentError(result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`));
  }
  const doc = result.data;
  const pieces = new Map<string, ScopedWindow[]>();
  const wheres: PlacedWhere[] = [];
  let span: Interval | undefined;
  doc.suspensions.forEach((w, i) => {
    const list = pieces.get(w.serviceCode) ?? [];
    const window: ScopedWindow = {
      start: (parseInstant(w.start) as { value: number }).value,
      end: (parseInstant(w.end) as { value: number }).value,
    };
    if (w.where) {
      window.where = w.where;
      wheres.push({ path: `suspensions[${i}].where`, where: w.where });
    }
    list.push(window);
    pieces.set(w.serviceCode, list);
    span = span
      ? { start: Math.min(span.start, window.start), end: Math.max(span.end, window.end) }
      : { start: window.start, end: window.end };
  });
  const windows = new Map<string, Interval[]>();
  const scopedWindows = new Map<string, ScopedWindow[]>();
  for (const [service, list] of pieces) {
    windows.set(service, unionOf(list.map((w) => ({ start: w.start, end: w.end }))));
    if (list.some((w) => w.where)) scopedWindows.set(service, list);
  }
  const incident: Incident = {
    incidentId: doc.incidentId,
    timeZone: resolveTimeZone(doc.timeZone) as string,
    rule: doc.policy.rule,
    dayBasis: doc.policy.dayBasis,
    rounding: doc.policy.rounding,
    windows,
    scopedWindows,
    span: span as Interval,
    wheres,
  };
  if (doc.title !== undefined) incident.title = doc.title;
  if (doc.goodwill) {
    const { amount, currency, scope, where } = doc.goodwill;
    incident.goodwill = { amount: BigInt(amount), currency, scope: scope ?? "refunded" };
    if (where) {
      incident.goodwill.where = where;
      wheres.push({ path: "goodwill.where", where });
    }
  }
  return incident;
}

/**
 * The most bytes an incident file may hold (1 MiB). A real incident is a few hundred bytes to a few kilobytes (a
 * window is about 100 bytes); the limit keeps a wrong file (a snapshot given as the incident, say) from being
 * read whole and parsed.
 */
export const MAX_INCIDENT_BYTES = 1 << 20;

/**
 * Refuses an incident of more than MAX_INCIDENT_BYTES: call it with the file's size before reading it whole, and
 * with the bytes read so far while reading one whose size was not known. Throws IncidentError.
 */
export function checkIncidentSize(bytes: number): void {
  if (bytes > MAX_INCIDENT_BYTES) throw new IncidentError([`the file is ${INCIDENT_TOO_LARGE}`]);
}

/** What is said of an incident over MAX_INCIDENT_BYTES, as a file or inside a run request. */
export const INCIDENT_TOO_LARGE = `larger than 1 MiB (${MAX_INCIDENT_BYTES.toLocaleString("en-US")} bytes), the most an incident may hold`;

/**
 * Parses an incident file's text (JSON, at most MAX_INCIDENT_BYTES as UTF-8); throws IncidentError naming what is
 * wrong.
 */
export function parseIncidentText(text: string): Incident {
  // A UTF-16 code unit is 1 to 3 bytes of UTF-8: encode only when the length alone does not decide.
  if (text.length > MAX_INCIDENT_BYTES) checkIncidentSize(text.length);
  else if (text.length * 3 > MAX_INCIDENT_BYTES) checkIncidentSize(new TextEncoder().encode(text).length);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (e) {
    throw new IncidentError([`not valid JSON: ${(e as Error).message}`]);
  }
  return parseIncident(document);
}
