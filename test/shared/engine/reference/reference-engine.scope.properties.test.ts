import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RefundLine } from "../../../../shared/engine/refund-line";
import { SUBSCRIPTION_COLUMNS } from "../../../../shared/input/subscription-row";
import { csvCell, toJsonLine } from "../../../../shared/output/line-format";
import { csvWithColumns, incidentDoc, run } from "../../../helpers/factories";

// Random contract v2 incidents (a where on some windows and on goodwill, either scope) over snapshots with extra
// columns in a shuffled header. `run` checks that the fast engine writes the reference one's bytes, rejects and counts.
const BASE = Date.UTC(2021, 9, 1) / 1000; // 2021-10-01
const SPAN = 120 * 86_400;
const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString().replace(".000Z", "Z");
const PLANS = ["voice-only", "data", "", " data", "a,b", 'say "hi"', "データ"];
const REGIONS = ["okinawa", "kyushu", "tokyo"];

const instantArb = fc.integer({ min: BASE, max: BASE + SPAN });
const whereObjectArb = fc.oneof(
  fc.record({ plan: fc.subarray(PLANS, { minLength: 1 }) }),
  fc.record({ region: fc.subarray(REGIONS, { minLength: 1 }) }),
  fc.record({ plan: fc.subarray(PLANS, { minLength: 1 }), region: fc.subarray(REGIONS, { minLength: 1 }) }),
);
const whereArb = fc.option(whereObjectArb, { nil: undefined });
const windowArb = fc.record({
  serviceCode: fc.constantFrom("VOICE", "DATA"),
  start: instantArb,
  length: fc.integer({ min: 1, max: 10 * 86_400 }),
  where: whereArb,
});
const goodwillArb = fc.option(fc.record({ scope: fc.constantFrom(undefined, "refunded", "active"), where: whereArb }), {
  nil: undefined,
});
const rowArb = fc.record({
  service_code: fc.constantFrom("VOICE", "DATA", "OTHER"),
  subscriber_id: fc.constantFrom("S-1", "S-2", "S-3", "S-4", "S-5"),
  monthly_fee: fc.constantFrom("0", "210", "3100", "123457"),
  currency: fc.constantFrom("JPY", "JPY", "JPY", "USD", "yen"),
  from: fc.integer({ min: BASE - 20 * 86_400, max: BASE + SPAN }),
  length: fc.option(fc.integer({ min: 1, max: 60 * 86_400 }), { nil: undefined }),
  time_zone: fc.constantFrom("", "UTC", "America/New_York"),
  billing_day: fc.constantFrom("", "1", "31"),
  plan: fc.constantFrom(...PLANS),
  region: fc.constantFrom(...REGIONS),
});
const policyArb = fc.record({
  rule: fc.constantFrom("calendar-day", "full-24h", "exact"),
  dayBasis: fc.constantFrom("actual", 30),
  rounding: fc.constantFrom("floor", "ceil", "half-up", "half-even"),
});
const columnsArb = fc
  .shuffledSubarray([...SUBSCRIPTION_COLUMNS, "plan", "region", "note"], { minLength: 12, maxLength: 12 })
  .map((c) => c as string[]);

type Where = Record<string, string[]> | undefined;
type Window = { serviceCode: string; start: number; length: number; where: Where };
type Row = typeof rowArb extends fc.Arbitrary<infer T> ? T : never;

const matches = (where: Where, r: Row) =>
  !where || Object.entries(where).every(([k, vs]) => vs.includes(r[k as "plan" | "region"]));
const overlaps = (a: number, b: number, c: number, d: number) => Math.max(a, c) < Math.min(b, d);

function build(policy: object, windows: Window[], goodwill: { scope?: string; where: Where } | undefined) {
  const doc = incidentDoc({
    policy: policy as never,
    suspensions: windows.map((w) => ({
      serviceCode: w.serviceCode,
      start: iso(w.start),
      end: iso(w.start + w.length),
      ...(w.where ? { where: w.where } : {}),
    })) as never,
  }) as Record<string, unknown>;
  if (goodwill) {
    doc.goodwill = {
      amount: 200,
      currency: "JPY",
      ...(goodwill.scope ? { scope: goodwill.scope } : {}),
      ...(goodwill.where ? { where: goodwill.where } : {}),
    };
  }
  return doc;
}

const cellsOf = (rows: Row[]) =>
  rows.map((r, i) => ({
    subscription_id: `C-${i}`,
    subscriber_id: r.subscriber_id,
    service_code: r.service_code,
    monthly_fee: r.monthly_fee,
    currency: r.currency,
    active_from: iso(r.from),
    active_to: r.length === undefined ? "" : iso(r.from + r.length),
    time_zone: r.time_zone,
    billing_day: r.billing_day,
    plan: r.plan,
    region: r.region,
    note: "n",
  }));

const runs = { numRuns: 80 };

describe("contract v2 scope (property-based)", () => {
  it("gives the same bytes from both engines, accounts for every row, and credits exactly whom the contract says", async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(windowArb, { minLength: 1, maxLength: 4 }),
        goodwillArb,
        fc.array(rowArb, { minLength: 1, maxLength: 10 }),
        columnsArb,
        async (policy, windows, goodwill, rows, columns) => {
          const { lines, rejects, counts } = await run(
            build(policy, windows, goodwill),
            csvWithColumns(columns, cellsOf(rows)),
          );
          // rows = computed + skipped + rejected, every record counted once.
          expect(counts.rows).toBe(rows.length);
          expect(counts.computed + counts.skipped + counts.rejected).toBe(counts.rows);
          expect(counts.rejected).toBe(rows.filter((r) => r.currency === "yen").length);
          expect(rejects).toHaveLength(counts.rejected);
          const named = new Set<string>(windows.map((w) => w.serviceCode));
          const valid = rows.filter((r) => r.currency !== "yen");
          expect(counts.skipped).toBe(valid.filter((r) => !named.has(r.service_code)).length);
          // Who is credited, found here the naive way: E is non-empty when a matching window of the row's service
          // overlaps its active range; "active" looks at the hull of all windows.
          const to = (r: Row) => (r.length === undefined ? Number.POSITIVE_INFINITY : r.from + r.length);
          const hullStart = Math.min(...windows.map((w) => w.start));
          const hullEnd = Math.max(...windows.map((w) => w.start + w.length));
          const credited = new Set<string>();
          for (const r of valid) {
            if (!goodwill || !matches(goodwill.where, r)) continue;
            const qualifies =
              goodwill.scope === "active"
                ? overlaps(r.from, to(r), hullStart, hullEnd)
                : windows.some(
                    (w) =>
                      w.serviceCode === r.service_code &&
                      matches(w.where, r) &&
                      overlaps(r.from, to(r), w.start, w.start + w.length),
                  );
            if (qualifies) credited.add(r.subscriber_id);
          }
          const goodwillLines = lines.filter((l) => l.unit === "goodwill").map((l) => l.subscriberId);
          expect(goodwillLines.sort()).toEqual([...credited].sort());
          expect(counts.goodwillLines).toBe(credited.size);
          expect(counts.lines).toBe(lines.length);
          // A refund line only for a row that matches a window of its service.
          for (const l of lines.filter((x) => x.unit !== "goodwill")) {
            const r = rows[Number((l.subscriptionId as string).slice(2))] as Row;
            expect(windows.some((w) => w.serviceCode === r.service_code && matches(w.where, r))).toBe(true);
          }
        },
      ),
      runs,
    );
  });

  it("changes nothing when every window's where lists every plan the snapshot holds (a v1 incident's lines)", async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(windowArb, { minLength: 1, maxLength: 3 }),
        fc.array(rowArb, { minLength: 1, maxLength: 8 }),
        columnsArb,
        async (policy, windows, rows, columns) => {
          const csv = csvWithColumns(columns, cellsOf(rows));
          const plain = windows.map((w) => ({ ...w, where: undefined }));
          const everyone = windows.map((w) => ({ ...w, where: { plan: PLANS } }));
          const v1 = await run(build(policy, plain, { where: undefined }), csv);
          const v2 = await run(build(policy, everyone, { scope: "refunded", where: { region: REGIONS } }), csv);
          expect(v2.lines).toEqual(v1.lines);
          expect(v2.counts).toEqual(v1.counts);
        },
      ),
      { numRuns: 40 },
    );
  });
});

// Helpers of the properties below, which compare two runs of the same rows.
const NINE: readonly string[] = SUBSCRIPTION_COLUMNS;
/** CSV text from a header and records (`null`: a blank line), RFC 4180 quoting, LF line ends. */
const csvText = (header: readonly string[], records: (readonly string[] | null)[]) =>
  `${[header, ...records].map((r) => (r === null ? "" : r.map(csvCell).join(","))).join("\n")}\n`;
const isRefund = (l: RefundLine) => l.unit !== "goodwill";
const creditedOf = (lines: RefundLine[]) => new Set(lines.filter((l) => !isRefund(l)).map((l) => l.subscriberId));
const periodKey = (l: RefundLine) => `${l.subscriptionId}|${l.periodStart}`;
/** Rows active over much of the windows' range (half of them open-ended), so that most runs have lines to compare. */
const busyRowArb = fc
  .tuple(
    rowArb,
    fc.integer({ min: BASE - 20 * 86_400, max: BASE + SPAN / 2 }),
    fc.option(fc.integer({ min: 20 * 86_400, max: SPAN }), { nil: undefined, freq: 2 }),
  )
  .map(([r, from, length]) => ({ ...r, from, length }));

describe("contract v2 scope: relations between runs (property-based)", () => {
  it("gives a v1 incident the same lines, rejects and counts whatever extra columns the snapshot carries", async () => {
    // Extra columns of any name but the nine (twice the same, "Plan", a name with a trailing space, an empty one),
    // anywhere in the header, holding anything (quotes, commas, a line break, text that looks like a contract value).
    const names = ["plan", "region", "note", "Plan", "Subscription_ID", "subscription_id ", "", "ブランド"];
    const cells = [...PLANS, "x\ny", '"', "C-0", "JPY", "2021-10-01", "  "];
    const extraArb = fc.record({
      name: fc.constantFrom(...names),
      at: fc.nat({ max: 12 }),
      cells: fc.array(fc.constantFrom(...cells), { minLength: 10, maxLength: 10 }),
    });
    const nineArb = fc.shuffledSubarray([...NINE], { minLength: 9, maxLength: 9 });
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(
          windowArb.map((w) => ({ ...w, where: undefined })),
          { minLength: 1, maxLength: 4 },
        ),
        fc.boolean(),
        fc.array(busyRowArb, { minLength: 1, maxLength: 10 }),
        nineArb,
        fc.array(extraArb, { minLength: 1, maxLength: 4 }),
        async (policy, windows, withGoodwill, rows, nine, extras) => {
          // Prepare: the same records without and with the extra columns, each inserted at its position.
          const incident = build(policy, windows, withGoodwill ? { where: undefined } : undefined);
          const records = cellsOf(rows).map((c) => nine.map((n) => c[n as keyof typeof c]));
          const header = [...nine];
          const widened = records.map((r) => [...r]);
          for (const x of extras) {
            const at = Math.min(x.at, header.length);
            header.splice(at, 0, x.name);
            widened.forEach((r, i) => {
              r.splice(at, 0, x.cells[i] as string);
            });
          }
          // A line break in an extra cell moves the rows after it down: where each record starts in the wide file.
          const startLine: number[] = [];
          let line = 2;
          for (const r of widened) {
            startLine.push(line);
            line += r.join("").split("\n").length;
          }
          // Act
          const narrow = await run(incident, csvText(nine, records));
          const wide = await run(incident, csvText(header, widened));
          // Assess
          expect(wide.lines).toEqual(narrow.lines);
          expect(wide.counts).toEqual(narrow.counts);
          expect(wide.rejects).toEqual(narrow.rejects.map((r) => ({ ...r, line: startLine[r.line - 2] })));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("never adds a refund line nor raises one when windows gain a where, under calendar-day and exact", async () => {
    // Half the windows have a where already; of the others, about half gain one.
    const someWhereArb = fc.option(whereObjectArb, { nil: undefined, freq: 2 });
    await fc.assert(
      fc.asyncProperty(
        policyArb.filter((p) => p.rule !== "full-24h"),
        fc.array(
          windowArb.chain((w) => someWhereArb.map((where) => ({ ...w, where }))),
          { minLength: 1, maxLength: 4 },
        ),
        fc.array(someWhereArb, { minLength: 4, maxLength: 4 }),
        goodwillArb,
        fc.array(busyRowArb, { minLength: 1, maxLength: 10 }),
        columnsArb,
        async (policy, windows, added, goodwill, rows, columns) => {
          // Prepare
          const narrowed = windows.map((w, i) => ({ ...w, where: w.where ?? added[i] }));
          fc.pre(narrowed.some((w, i) => w.where !== windows[i]?.where));
          const csv = csvWithColumns(columns, cellsOf(rows));
          // Act
          const before = await run(build(policy, windows, goodwill), csv);
          const after = await run(build(policy, narrowed, goodwill), csv);
          // Assess: per (subscription, period), a line after is a line before, with no more units and no more money.
          const was = new Map(before.lines.filter(isRefund).map((l) => [periodKey(l), l]));
          for (const l of after.lines.filter(isRefund)) {
            const old = was.get(periodKey(l));
            expect(old, `${periodKey(l)}: a line the where added`).toBeDefined();
            expect(l.units).toBeLessThanOrEqual((old as RefundLine).units);
            expect(l.amount <= (old as RefundLine).amount, `${periodKey(l)}: ${l.amount} > ${old?.amount}`).toBe(true);
          }
          // Nor does it credit anyone new (scope "active" looks at every window whatever its where).
          const credited = creditedOf(before.lines);
          for (const s of creditedOf(after.lines)) expect(credited.has(s)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('credits under goodwill scope "active" everyone "refunded" credits, with or without goodwill.where', async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(windowArb, { minLength: 1, maxLength: 4 }),
        whereObjectArb,
        fc.array(busyRowArb, { minLength: 1, maxLength: 10 }),
        columnsArb,
        async (policy, windows, where, rows, columns) => {
          // Act: both scopes, without and with the where, on the same snapshot.
          const csv = csvWithColumns(columns, cellsOf(rows));
          const outcomes = [];
          for (const w of [undefined, where])
            for (const scope of ["refunded", "active"])
              outcomes.push(await run(build(policy, windows, { scope, where: w }), csv));
          // Assess: the scope decides goodwill only, and "active" credits every subscriber "refunded" credits.
          const [refunded, active, refundedWhere, activeWhere] = outcomes.map((o) => creditedOf(o.lines));
          const expectWithin = (some: Set<string | null> | undefined, all: Set<string | null> | undefined) => {
            for (const s of some ?? []) expect(all?.has(s), `${s} credited by the narrower run only`).toBe(true);
          };
          for (const o of outcomes) expect(o.lines.filter(isRefund)).toEqual(outcomes[0]?.lines.filter(isRefund));
          expectWithin(refunded, active);
          expectWithin(refundedWhere, activeWhere);
          // And goodwill.where only ever narrows who is credited, under either scope.
          expectWithin(refundedWhere, refunded);
          expectWithin(activeWhere, active);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("gives the same lines and rejects (on the same line numbers) whatever the order of the header's columns", async () => {
    // Rows with faults (none, or up to three: a bad value in a column, a duplicate id), so that the reason must be the
    // first fault in the contract's order, not the header's; blank lines between rows, and a line break in an extra
    // cell. Every field of every record moves with its column.
    const columns = [...NINE, "plan", "region", "note", "note"];
    const faults: Record<string, Record<string, string>> = {
      duplicate: { subscription_id: "C-0" },
      fee: { monthly_fee: "007" },
      zone: { time_zone: "JST" },
      billing: { billing_day: "0" },
      range: { active_to: "2021-01-01" },
    };
    const permutationArb = fc.shuffledSubarray(
      columns.map((_, i) => i),
      { minLength: columns.length, maxLength: columns.length },
    );
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(windowArb, { minLength: 1, maxLength: 4 }),
        goodwillArb,
        fc.array(
          fc.record({
            row: busyRowArb,
            faults: fc.oneof(
              { arbitrary: fc.constant([]), weight: 2 },
              { arbitrary: fc.subarray(Object.keys(faults), { minLength: 1, maxLength: 3 }), weight: 1 },
            ),
            note: fc.constantFrom("n", "x\ny", 'a "b", c'),
            blankBefore: fc.boolean(),
          }),
          { minLength: 1, maxLength: 10 },
        ),
        permutationArb,
        permutationArb,
        async (policy, windows, goodwill, specs, first, second) => {
          // Prepare
          const incident = build(policy, windows, goodwill);
          const base = cellsOf(specs.map((s) => s.row));
          const records = specs.map((s, i) => {
            const c: Record<string, string> = { ...base[i], note: s.note };
            for (const f of s.faults) Object.assign(c, faults[f]);
            return columns.map((name) => c[name] as string);
          });
          const permuted = (order: number[]) =>
            csvText(
              order.map((k) => columns[k] as string),
              specs.flatMap((s, i) => [
                ...(s.blankBefore ? [null] : []),
                order.map((k) => (records[i] as string[])[k] as string),
              ]),
            );
          // Act
          const a = await run(incident, permuted(first));
          const b = await run(incident, permuted(second));
          // Assess
          expect(b.lines.map(toJsonLine).sort()).toEqual(a.lines.map(toJsonLine).sort());
          const byLine = (r: { line: number }, s: { line: number }) => r.line - s.line;
          expect([...b.rejects].sort(byLine)).toEqual([...a.rejects].sort(byLine));
          expect(b.counts).toEqual(a.counts);
        },
      ),
      { numRuns: 60 },
    );
  });
});
