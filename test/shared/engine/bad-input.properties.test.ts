import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_RECORD_BYTES, RECORD_TOO_LONG } from "../../../shared/csv/csv-record-reader";
import type { RefundLine } from "../../../shared/engine/refund-line";
import { parseIncident } from "../../../shared/input/incident";
import { type RejectedRow, SUBSCRIPTION_COLUMNS } from "../../../shared/input/subscription-row";
import { toJsonLine } from "../../../shared/output/line-format";
import { type Computed, incidentDoc, runFast, runReference } from "../../helpers/factories";

// Bad input, fuzzed: a valid snapshot, some of its rows corrupted in the ways real files break (quotes, byte-order
// marks, CRs, missing and extra columns, huge fields, bytes that are not UTF-8, a truncated last line, blank
// lines), read by both engines. Neither may throw; the untouched rows keep exactly their lines; each corrupted row
// is rejected at its own line, or, when the corruption left it valid, computed.

const COLUMNS: readonly string[] = SUBSCRIPTION_COLUMNS;
const encode = (text: string) => new TextEncoder().encode(text);
const LF = 0x0a;

const INCIDENT = parseIncident(
  incidentDoc({
    goodwill: { amount: 200, currency: "JPY" },
    suspensions: [
      { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" },
      { serviceCode: "DRIVENET", start: "2011-12-31T20:00:00+09:00", end: "2012-01-02T02:00:00+09:00" },
    ],
  }),
);

/** Both engines over the same bytes: they must agree byte for byte; returns what the reference one emitted. */
async function both(bytes: Uint8Array, chunkBytes: number): Promise<Computed> {
  const reference = await runReference(INCIDENT, bytes);
  const fast = await runFast(INCIDENT, bytes, { chunkBytes });
  expect(fast.text).toBe(reference.lines.map(toJsonLine).join(""));
  expect(fast.rejects).toEqual(reference.rejects);
  expect(fast.counts).toEqual(reference.counts);
  return reference;
}

/** Every value valid, and every active_to later than every active_from, whatever the zone. */
const cleanRowArb = fc.record({
  service_code: fc.constantFrom("IMADOKO", "DRIVENET", "OTHER"),
  monthly_fee: fc.constantFrom("0", "210", "315", "1234567"),
  currency: fc.constantFrom("JPY", "USD"),
  active_from: fc.constantFrom("2010-04-01", "2011-12-21", "2011-12-21T12:00:00+09:00"),
  active_to: fc.constantFrom("", "2011-12-22", "2012-01-01T12:00:00Z"),
  time_zone: fc.constantFrom("", "Asia/Tokyo", "UTC", "America/New_York"),
  billing_day: fc.constantFrom("", "1", "15", "31"),
});
type CleanRow = typeof cleanRowArb extends fc.Arbitrary<infer T> ? T : never;

const column = fc.nat(8);
const at = fc.nat(40);
/** Lengths of a huge field: past the id limit, long, and around the record limit (both sides of it). */
const hugeLength = fc.oneof(
  { arbitrary: fc.constantFrom(129, 201, 5_000, 100_000), weight: 4 },
  { arbitrary: fc.integer({ min: MAX_RECORD_BYTES - 120, max: MAX_RECORD_BYTES + 60 }), weight: 1 },
);
const NOT_UTF8 = [
  [0xff], // never in UTF-8
  [0xc3], // a lead byte without its follower
  [0x80], // a follower without a lead
  [0xe3, 0x81], // a sequence cut short
  [0xed, 0xa0, 0x80], // a surrogate
  [0xc0, 0xaf], // an overlong '/'
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
];

const corruptionArb = fc.oneof(
  fc.record({ kind: fc.constant("quote-inside" as const), column, at }),
  fc.record({ kind: fc.constant("text-after-quote" as const), column }),
  fc.record({ kind: fc.constant("escaped-quotes" as const), column, at }),
  fc.record({ kind: fc.constant("break-in-quotes" as const), column, at, eol: fc.constantFrom("\n", "\r\n") }),
  fc.record({ kind: fc.constant("bom" as const), column, at }),
  fc.record({ kind: fc.constant("crlf" as const) }),
  fc.record({ kind: fc.constant("lone-cr" as const), column, at }),
  fc.record({ kind: fc.constant("missing" as const), from: fc.nat(8), count: fc.integer({ min: 1, max: 7 }) }),
  fc.record({
    kind: fc.constant("extra" as const),
    values: fc.array(fc.constantFrom("", "x", "IMADOKO", "210"), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant("huge" as const), column, length: hugeLength }),
  fc.record({ kind: fc.constant("not-utf8" as const), column, at, bytes: fc.constantFrom(...NOT_UTF8) }),
  fc.record({
    kind: fc.constant("junk" as const),
    column,
    at,
    text: fc.constantFrom("\u0000", "\t", " ", "é", "\\", "\u{1F3FF}", "日本", "\uFFFD"),
  }),
);
/** What may happen to the last row only: a quote never closed swallows the rest of the file (nothing, here). */
const lastArb = fc.oneof(
  { arbitrary: fc.constant({ kind: "none" as const }), weight: 4 },
  { arbitrary: corruptionArb, weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant("truncate" as const),
      keep: fc.nat(80),
      tail: fc.constantFrom([], [0xe3, 0x81], [0x0d]),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant("unclosed" as const), column }), weight: 2 },
);
type Corruption = typeof corruptionArb extends fc.Arbitrary<infer T> ? T : never;
type LastCorruption = typeof lastArb extends fc.Arbitrary<infer T> ? T : never;

const caseArb = fc.record({
  rows: fc.array(cleanRowArb, { minLength: 1, maxLength: 10 }),
  corruptions: fc.array(fc.option(corruptionArb, { freq: 2 }), { minLength: 10, maxLength: 10 }),
  last: lastArb,
  blankAfter: fc.array(fc.nat(10), { maxLength: 3 }),
  blank: fc.constantFrom("\n", "\r\n"),
  bom: fc.boolean(),
  chunkBytes: fc.constantFrom(5, 64, 4_093, 65_536),
});

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};
const insert = (field: Uint8Array, position: number, bytes: Uint8Array) =>
  concat(field.subarray(0, position % (field.length + 1)), bytes, field.subarray(position % (field.length + 1)));
const quoted = (field: Uint8Array, after = "") => concat(encode('"'), field, encode(`"${after}`));

/** Row `i`'s fields as bytes, in the contract's column order (ids C-i and S-i: unique, no corruption makes one). */
function fieldsOf(r: CleanRow, i: number): Uint8Array[] {
  const values: Record<string, string> = { ...r, subscription_id: `C-${i}`, subscriber_id: `S-${i}` };
  return COLUMNS.map((c) => encode(values[c] as string));
}

/** A row's bytes with one corruption; `eol` ends it. Never a quote left open: that is for the last row only. */
function corrupt(fields: Uint8Array[], c: Corruption): { fields: Uint8Array[]; eol: string } {
  const f = [...fields];
  const at = (k: number, bytes: Uint8Array) => {
    f[k] = bytes;
  };
  const field = (k: number) => f[k] as Uint8Array;
  switch (c.kind) {
    case "quote-inside": {
      // Never first in the field: a quote there would open a quoted field, and it might close rows later.
      const value = field(c.column);
      at(c.column, value.length === 0 ? encode('x"') : insert(value, 1 + (c.at % value.length), encode('"')));
      break;
    }
    case "text-after-quote":
      at(c.column, quoted(field(c.column), "x"));
      break;
    case "escaped-quotes":
      at(c.column, quoted(insert(field(c.column), c.at, encode('""'))));
      break;
    case "break-in-quotes":
      at(c.column, quoted(insert(field(c.column), c.at, encode(c.eol))));
      break;
    case "bom":
      at(c.column, insert(field(c.column), c.at, encode("\uFEFF")));
      break;
    case "crlf":
      return { fields: f, eol: "\r\n" };
    case "lone-cr":
      at(c.column, insert(field(c.column), c.at, encode("\r")));
      break;
    case "missing":
      f.splice(Math.min(c.from, 9 - c.count), c.count);
      break;
    case "extra":
      f.push(...c.values.map(encode));
      break;
    case "huge":
      // A fee of any length is valid (exact arithmetic); any other column that long is not.
      at(c.column, encode(COLUMNS[c.column] === "monthly_fee" ? `1${"0".repeat(c.length - 1)}` : "x".repeat(c.length)));
      break;
    case "not-utf8":
      at(c.column, insert(field(c.column), c.at, Uint8Array.from(c.bytes)));
      break;
    case "junk":
      at(c.column, insert(field(c.column), c.at, encode(c.text)));
      break;
  }
  return { fields: f, eol: "\n" };
}

const joined = (fields: Uint8Array[]) => concat(...fields.flatMap((f, k) => (k === 0 ? [f] : [encode(","), f])));

/** The last row's bytes, when it gets one of the corruptions only a last row may have. */
function corruptLast(fields: Uint8Array[], c: LastCorruption): Uint8Array {
  if (c.kind === "truncate") {
    const whole = concat(joined(fields), encode("\n"));
    // At least one byte kept (an empty last line is no record), the line feed never.
    return concat(whole.subarray(0, 1 + (c.keep % (whole.length - 1))), Uint8Array.from(c.tail));
  }
  if (c.kind === "unclosed") {
    const f = [...fields];
    f[c.column] = concat(encode('"'), f[c.column] as Uint8Array);
    return concat(joined(f), encode("\n"));
  }
  if (c.kind === "none") return concat(joined(fields), encode("\n"));
  const { fields: f, eol } = corrupt(fields, c);
  return concat(joined(f), encode(eol));
}

/** What the reject of a corrupted row must say, where its corruption decides it; undefined where it does not. */
function expectedReject(c: Corruption | LastCorruption, rowBytes: number, i: number): Partial<RejectedRow> | undefined {
  const id = (k: number) => (k === 0 ? null : `C-${i}`);
  // A field past the limit: the id is the one read before it, whole (with the comma that ends it), or none.
  if (c.kind === "huge" && rowBytes > MAX_RECORD_BYTES) {
    const subscriptionId = c.column > 0 ? `C-${i}` : c.length < MAX_RECORD_BYTES ? "x".repeat(c.length) : null;
    return { subscriptionId, field: null, reason: RECORD_TOO_LONG };
  }
  switch (c.kind) {
    case "quote-inside":
      return {
        subscriptionId: id(c.column),
        field: COLUMNS[c.column] as string,
        reason: `field ${c.column + 1} has a quote inside an unquoted value`,
      };
    case "text-after-quote":
      return {
        subscriptionId: id(c.column),
        field: COLUMNS[c.column] as string,
        reason: `field ${c.column + 1} has text after its closing quote`,
      };
    case "unclosed":
      return {
        subscriptionId: id(c.column),
        field: COLUMNS[c.column] as string,
        reason: `the quote that opens it is never closed: the file ends inside field ${c.column + 1}`,
      };
    case "missing":
      return { field: null, reason: `has ${9 - c.count} field${9 - c.count === 1 ? "" : "s"}, the header has 9` };
    case "extra":
      return { subscriptionId: `C-${i}`, field: null, reason: `has ${9 + c.values.length} fields, the header has 9` };
    case "not-utf8":
      return {
        subscriptionId: c.column === 0 ? expect.any(String) : `C-${i}`,
        field: COLUMNS[c.column] as string,
        reason: "is not valid UTF-8",
      };
    default:
      return undefined;
  }
}

/** The lines a row owes: its own, and its subscriber's goodwill (each row has a subscriber of its own). */
const linesOfRow = (lines: RefundLine[], i: number) =>
  lines.filter((l) => l.subscriptionId === `C-${i}` || (l.unit === "goodwill" && l.subscriberId === `S-${i}`));

const HEADER = encode(`${COLUMNS.join(",")}\n`);

describe("both engines on bad input (property-based)", () => {
  it("never throw, keep every untouched row's lines, and reject each corrupted row at its own line or compute it", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (t) => {
        const n = t.rows.length;
        const clean = concat(HEADER, ...t.rows.map((r, i) => concat(joined(fieldsOf(r, i)), encode("\n"))));

        const parts: Uint8Array[] = [t.bom ? encode("\uFEFF") : new Uint8Array(0), HEADER];
        const starts: number[] = [];
        const rowBytes: number[] = [];
        const corrupted = new Map<number, Corruption | LastCorruption>();
        let offset = parts.reduce((sum, p) => sum + p.length, 0);
        t.rows.forEach((r, i) => {
          const c = i === n - 1 ? t.last : (t.corruptions[i] ?? { kind: "none" as const });
          const bytes = corruptLast(fieldsOf(r, i), c);
          if (c.kind !== "none") corrupted.set(i, c);
          starts.push(offset);
          rowBytes.push(bytes.length - (bytes.at(-1) === LF ? (bytes.at(-2) === 0x0d ? 2 : 1) : 0));
          parts.push(bytes);
          offset += bytes.length;
          if (i < n - 1 && t.blankAfter.includes(i)) {
            parts.push(encode(t.blank));
            offset += t.blank.length;
          }
        });
        const bad = concat(...parts);
        const lineAt = (byteOffset: number) => 1 + bad.subarray(0, byteOffset).filter((b) => b === LF).length;
        // Chunks of a few bytes through a megabyte row would only make the test slow.
        const chunkBytes = bad.length > 20_000 ? 65_536 : t.chunkBytes;

        const before = await both(clean, chunkBytes);
        expect(before.rejects).toEqual([]);
        const after = await both(bad, chunkBytes);

        for (let i = 0; i < n; i++) {
          if (!corrupted.has(i)) expect(linesOfRow(after.lines, i)).toEqual(linesOfRow(before.lines, i));
        }
        const rowAtLine = new Map(starts.map((s, i) => [lineAt(s), i]));
        for (const r of after.rejects) {
          const i = rowAtLine.get(r.line);
          expect(i !== undefined && corrupted.has(i), `reject at line ${r.line} is a corrupted row's`).toBe(true);
          expect(r.field === null || COLUMNS.includes(r.field)).toBe(true);
          expect(r.subscriptionId === null || typeof r.subscriptionId === "string").toBe(true);
          expect(r.reason.length).toBeGreaterThan(0);
          expect(r.reason.length).toBeLessThan(300); // values are quoted cut short
        }
        for (const [i, c] of corrupted) {
          const want = expectedReject(c, rowBytes[i] as number, i);
          if (want) expect(after.rejects.find((r) => r.line === lineAt(starts[i] as number))).toMatchObject(want);
        }
        expect(new Set(after.rejects.map((r) => r.line)).size).toBe(after.rejects.length);
        const { rows, computed, skipped, rejected } = after.counts;
        expect(rows).toBe(n);
        expect(computed + skipped + rejected).toBe(n);
        expect(rejected).toBe(after.rejects.length);
      }),
      { numRuns: 150 },
    );
  });

  it("rejects a row over the limit, plain or quoted, at its line with what it read of its id, and computes the rows after", async () => {
    const row = (id: string, subscriber: string) => `${id},${subscriber},IMADOKO,210,JPY,2010-04-01,,,`;
    const breaks = Math.ceil(MAX_RECORD_BYTES / 3);
    const text = [
      COLUMNS.join(","),
      row("C-1", "x".repeat(MAX_RECORD_BYTES)), // line 2: plain ASCII, one line
      row("C-2", `"${"y\r\n".repeat(breaks)}"`), // line 3, and as many more as it holds line breaks
      row("C-3", "S-3"),
      row("x".repeat(MAX_RECORD_BYTES), "S-4"), // its id is what made it too long: no id
      row("C-5", "S-5"),
    ].join("\n");
    const { lines, rejects, counts } = await both(encode(text), 65_536);
    expect(rejects).toEqual([
      { line: 2, subscriptionId: "C-1", field: null, reason: RECORD_TOO_LONG },
      { line: 3, subscriptionId: "C-2", field: null, reason: RECORD_TOO_LONG },
      { line: 5 + breaks, subscriptionId: null, field: null, reason: RECORD_TOO_LONG },
    ]);
    expect(lines.map((l) => [l.subscriptionId, l.subscriberId, l.amount])).toEqual([
      ["C-3", "S-3", 20n],
      [null, "S-3", 200n],
      ["C-5", "S-5", 20n],
      [null, "S-5", 200n],
    ]);
    expect(counts).toMatchObject({ rows: 5, computed: 2, skipped: 0, rejected: 3 });
  });

  it("refuses a header over the limit as unusable in both engines, naming the line", async () => {
    const bytes = encode(
      `${COLUMNS.join(",")},${"n".repeat(MAX_RECORD_BYTES)}\nC-1,S-1,IMADOKO,210,JPY,2010-04-01,,,,\n`,
    );
    const message = `subscriptions: line 1: header: ${RECORD_TOO_LONG}`;
    await expect(runReference(INCIDENT, bytes)).rejects.toThrow(message);
    await expect(runFast(INCIDENT, bytes, { chunkBytes: 65_536 })).rejects.toThrow(message);
  });
});
