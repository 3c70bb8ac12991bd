import fc from "fast-check";
import { parseIncident } from "../../shared/input/incident";
import { SUBSCRIPTION_COLUMNS } from "../../shared/input/subscription-row";
import { csvCell } from "../../shared/output/line-format";
import { incidentDoc } from "./factories";

// Random incidents and snapshots for the differential properties that hold the byte path to the reference
// judgement: every rule, day basis, rounding, zone and billing day, and rows that are wrong in every way the byte
// path must hand over to the reference one (test/shared/engine/fast/fast-engine.test.ts,
// test/shared/pipeline/compute-batch.test.ts).

const BASE = Date.UTC(2011, 9, 1) / 1000; // 2011-10-01
const SPAN = 150 * 86_400;
export const iso = (s: number) => new Date(s * 1000).toISOString().replace(".000Z", "Z");
/** The same instant written with a +09:00 offset. */
const jst = (s: number) => `${iso(s + 9 * 3600).slice(0, 19)}+09:00`;
const ZONES = ["Asia/Tokyo", "UTC", "America/New_York", "Australia/Sydney", "Pacific/Apia", "Asia/Kolkata"];

const instant = fc.integer({ min: BASE, max: BASE + SPAN });
const window = fc
  .tuple(instant, fc.integer({ min: 1, max: 12 * 86_400 }), fc.constantFrom("IMADOKO", "DRIVENET"))
  .map(([start, length, serviceCode]) => ({ serviceCode, start: iso(start), end: iso(start + length) }));
export const incidentArb = fc
  .record({
    rule: fc.constantFrom("calendar-day", "full-24h", "exact"),
    dayBasis: fc.constantFrom("actual", 30),
    rounding: fc.constantFrom("floor", "ceil", "half-up", "half-even"),
    zone: fc.constantFrom(...ZONES),
    windows: fc.array(window, { minLength: 1, maxLength: 3 }),
    goodwill: fc.boolean(),
  })
  .map(({ rule, dayBasis, rounding, zone, windows, goodwill }) =>
    parseIncident(
      incidentDoc({
        timeZone: zone,
        policy: { rule, dayBasis, rounding } as never,
        suspensions: windows,
        ...(goodwill ? { goodwill: { amount: 500, currency: "JPY" } } : {}),
      }),
    ),
  );

// Each field's values below straddle the boundary of the judgement (`validateRow`, shared/input/subscription-row.ts):
// ids of 128 and 129 characters, fees of 15 digits and more, leading zeros, billing days 0, 31, 32, 07, unknown
// currencies and zones, impossible dates. The engines agreeing on such rows is the property that the fast engine's
// byte checks never take a row the judgement rejects, nor refuse one it accepts (fast-engine.ts, "One judgement of
// a row").
/** A field value: mostly valid, sometimes wrong in a way one check or another must catch. */
const timestamp = fc.oneof(
  { weight: 6, arbitrary: instant.map(iso) },
  { weight: 4, arbitrary: instant.map(jst) },
  { weight: 3, arbitrary: instant.map((s) => iso(s).slice(0, 10)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "2011-02-29",
      "2011-13-01",
      "0000-01-01",
      "2011-12-20T24:00:00Z",
      "2011-12-20T23:60:00Z",
      "2011-12-20T23:00:00+24:00",
      "2011-12-20 23:00:00Z",
      "2011-12-20T23:00:00z",
      "2011-12-20T23:00Z",
      "20111220",
      "",
    ),
  },
);
const fieldsArb = fc.record({
  subscription_id: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 40 }).map((n) => `C-${n}`) },
    { weight: 1, arbitrary: fc.constantFrom("", "x".repeat(129), "x".repeat(128), "日本-1", 'q"1', "a,b", "b\\s") },
  ),
  subscriber_id: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 8 }).map((n) => `S-${n}`) },
    { weight: 1, arbitrary: fc.constantFrom("", "S-é", "S\t1") },
  ),
  service_code: fc.constantFrom("IMADOKO", "IMADOKO", "DRIVENET", "OTHER", "imadoko", ""),
  monthly_fee: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("0", "1", "210", "315", "999999999999999") },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String) },
    { weight: 1, arbitrary: fc.constantFrom("01", "-1", "1.5", "", " 210", "1e3") },
  ),
  currency: fc.constantFrom("JPY", "JPY", "USD", "jpy", "XYZ", "JP", ""),
  active_from: timestamp,
  active_to: fc.oneof({ weight: 3, arbitrary: fc.constant("") }, { weight: 2, arbitrary: timestamp }),
  time_zone: fc.constantFrom("", "", "", ...ZONES, "asia/tokyo", "JST", "+09:00"),
  billing_day: fc.constantFrom("", "1", "15", "28", "29", "30", "31", "0", "32", "07"),
});

/** How a row is written: plainly, every field quoted, with extra or missing fields, or broken on purpose. */
const shapeArb = fc.constantFrom(
  "plain",
  "plain",
  "plain",
  "plain",
  "quoted",
  "extra",
  "short",
  "crlf",
  "lone-cr",
  "bad-utf8",
  "open-quote",
  "empty-line",
);
type Fields = Record<(typeof SUBSCRIPTION_COLUMNS)[number], string>;

function lineOf(fields: Fields, shape: string, columns: readonly string[]): string {
  const cells = columns.map((c) => (c.startsWith("note") ? "n" : csvCell((fields as Record<string, string>)[c] ?? "")));
  switch (shape) {
    case "quoted":
      return `${columns.map((c) => `"${((fields as Record<string, string>)[c] ?? "").replaceAll('"', '""')}"`).join(",")}\n`;
    case "extra":
      return `${cells.join(",")},more\n`;
    case "short":
      return `${cells.slice(1).join(",")}\n`;
    case "crlf":
      return `${cells.join(",")}\r\n`;
    case "lone-cr":
      return `${cells.join(",")}\r\r\n`;
    case "bad-utf8":
      return `${cells.join(",")}\u0000BAD\n`;
    case "open-quote":
      return `${cells.slice(0, -1).join(",")},"line\nbreak\n`;
    case "empty-line":
      return `\n${cells.join(",")}\n`;
    default:
      return `${cells.join(",")}\n`;
  }
}

/** A snapshot as bytes: a header (columns in any order, an extra one), rows, and how the file starts and ends. */
export const snapshotArb = fc
  .record({
    // The nine columns and up to 12 others, in any order (a header wider than the scanner's first guess of 16).
    order: fc.integer({ min: 0, max: 12 }).chain((extra) => {
      const all = [...SUBSCRIPTION_COLUMNS, ...Array.from({ length: extra }, (_, i) => `note${i}`)];
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
    }),
    rows: fc.array(fc.tuple(fieldsArb, shapeArb), { maxLength: 40 }),
    bom: fc.boolean(),
    lastLineFeed: fc.boolean(),
  })
  .map(({ order, rows, bom, lastLineFeed }) => {
    let text = `${bom ? "\uFEFF" : ""}${order.join(",")}\n`;
    for (const [fields, shape] of rows) text += lineOf(fields, shape, order);
    if (!lastLineFeed) text = text.replace(/\r?\n$/, "");
    // Bytes that are not UTF-8 where a row asked for them.
    const bytes = new TextEncoder().encode(text);
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) bytes[i] = 0xff;
    return bytes;
  });

// Contract v2's scope: windows with a `where` on a `plan` column, goodwill by scope and by a `where` on `victims`.
const SCOPED_BASE = Date.UTC(2011, 11, 15) / 1000;
const scopedInstant = fc.integer({ min: SCOPED_BASE, max: SCOPED_BASE + 20 * 86_400 });
const scopedWindow = fc
  .tuple(
    scopedInstant,
    fc.integer({ min: 3600, max: 5 * 86_400 }),
    fc.constantFrom("IMADOKO", "DRIVENET"),
    fc.constantFrom(undefined, { plan: ["a"] }, { plan: ["a", "b"] }, { plan: [""] }),
  )
  .map(([start, length, serviceCode, where]) => ({
    serviceCode,
    start: iso(start),
    end: iso(start + length),
    ...(where ? { where } : {}),
  }));
export const scopedIncidentArb = fc
  .record({
    rule: fc.constantFrom("calendar-day", "full-24h", "exact"),
    rounding: fc.constantFrom("floor", "ceil", "half-up"),
    windows: fc.array(scopedWindow, { minLength: 1, maxLength: 3 }),
    goodwill: fc.constantFrom(
      undefined,
      { amount: 500, currency: "JPY" },
      { amount: 500, currency: "JPY", scope: "active" },
      { amount: 500, currency: "JPY", scope: "active", where: { victims: ["yes"] } },
      { amount: 500, currency: "JPY", where: { victims: ["yes", ""] } },
    ),
  })
  .map(({ rule, rounding, windows, goodwill }) =>
    parseIncident(
      incidentDoc({
        policy: { rule, dayBasis: "actual", rounding } as never,
        suspensions: windows as never,
        ...(goodwill ? { goodwill: goodwill as never } : {}),
      }),
    ),
  );
const scopedDate = fc.oneof(
  scopedInstant.map(iso),
  scopedInstant.map((s) => iso(s).slice(0, 10)),
  fc.constant("2011-01-01"),
);
const scopedRow = fc.record({
  subscription_id: fc.integer({ min: 0, max: 30 }).map((n) => `C-${n}`),
  subscriber_id: fc.oneof(
    fc.integer({ min: 0, max: 5 }).map((n) => `S-${n}`),
    fc.constant("S-日"),
  ),
  service_code: fc.constantFrom("IMADOKO", "DRIVENET", "OTHER"),
  monthly_fee: fc.constantFrom("0", "210", "3100", "999999999999999", "1234567890123456"),
  currency: fc.constantFrom("JPY", "JPY", "USD"),
  active_from: scopedDate,
  active_to: fc.oneof(fc.constant(""), scopedDate),
  time_zone: fc.constantFrom("", "", "UTC", "Asia/Tokyo"),
  billing_day: fc.constantFrom("", "1", "20", "31"),
  plan: fc.constantFrom("a", "b", "", "日"),
  victims: fc.constantFrom("yes", "no", ""),
  shape: fc.constantFrom("plain", "plain", "plain", "quoted", "crlf", "extra"),
});
/** The columns of `scopedSnapshotArb`'s header: the contract's between a plan and a victims flag. */
export const SCOPED_COLUMNS = ["plan", ...SUBSCRIPTION_COLUMNS, "victims"];
/** A snapshot for `scopedIncidentArb`: plain, quoted, CRLF and too-wide rows, a BOM or not, a last line feed or not. */
export const scopedSnapshotArb = fc
  .record({ rows: fc.array(scopedRow, { maxLength: 40 }), bom: fc.boolean(), lastLineFeed: fc.boolean() })
  .map(({ rows, bom, lastLineFeed }) => {
    let text = `${bom ? "\uFEFF" : ""}${SCOPED_COLUMNS.join(",")}\n`;
    for (const r of rows) {
      const cells = SCOPED_COLUMNS.map((c) => (r as Record<string, string>)[c] ?? "");
      if (r.shape === "quoted") text += `${cells.map((c) => `"${c}"`).join(",")}\n`;
      else if (r.shape === "crlf") text += `${cells.join(",")}\r\n`;
      else if (r.shape === "extra") text += `${cells.join(",")},z\n`;
      else text += `${cells.join(",")}\n`;
    }
    if (!lastLineFeed) text = text.replace(/\r?\n$/, "");
    return new TextEncoder().encode(text);
  });
