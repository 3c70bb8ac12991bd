import { describe, expect, it } from "vitest";
import type { RefundLine } from "../../../shared/engine/refund-line";
import { type IncidentInput, parseIncident } from "../../../shared/input/incident";
import { SUBSCRIPTION_COLUMNS } from "../../../shared/input/subscription-row";
import { ServiceTotals } from "../../../shared/money/service-totals";
import { finalizeShard, type ShardTally } from "../../../shared/pipeline/finalize-run";
import { loadPlan } from "../../../shared/pipeline/run-steps";
import { SHARDS, ZERO_COUNTS } from "../../../shared/store/refund-store";
import { csvWithColumns, incidentDoc, runReference } from "../../helpers/factories";
import {
  BUCKET,
  executionInput,
  runSteps,
  runThrough,
  storedLinesOf,
  useHarness,
} from "../../helpers/pipeline-harness";

const h = useHarness();

const COLUMNS = [...SUBSCRIPTION_COLUMNS, "plan", "victim"];
const WINDOW = { start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" };

/**
 * Contract v2 through the run pipeline: the sp-mode case with a scope. IMADOKO is down for everyone early on the
 * 21st and for "premium" plans again on the 22nd (a gap between); DRIVENET for the plans the incident lists; the
 * apology goes to every victim active inside the span [20th 23:30, 22nd 14:00), whatever they subscribe to.
 */
function scoped(id: string, scope: { drivenetPlans: string[]; victims: string[] }): IncidentInput {
  return incidentDoc({
    incidentId: id,
    suspensions: [
      { serviceCode: "IMADOKO", start: WINDOW.start, end: "2011-12-21T06:00:00+09:00" },
      { serviceCode: "IMADOKO", start: "2011-12-22T00:00:00+09:00", end: WINDOW.end, where: { plan: ["premium"] } },
      { serviceCode: "DRIVENET", ...WINDOW, where: { plan: scope.drivenetPlans } },
    ] as never,
    goodwill: { amount: 200, currency: "JPY", scope: "active", where: { victim: scope.victims } } as never,
  });
}
const wide = (id: string) =>
  scoped(id, { drivenetPlans: ["voice-only", "premium"], victims: ["swapped", "misdelivered"] });
const narrow = (id: string) => scoped(id, { drivenetPlans: ["premium"], victims: ["swapped"] });

type Cells = Record<string, string>;
const sub = (n: number, cells: Cells): Cells => ({
  subscription_id: `C-${n}`,
  subscriber_id: `S-${n}`,
  service_code: "IMADOKO",
  monthly_fee: "310",
  currency: "JPY",
  active_from: "2011-01-01",
  plan: "basic",
  victim: "",
  ...cells,
});

/** One of each case the scope decides, the expected outcome (under `wide`) beside each. */
const ROWS: Cells[] = [
  sub(1, { victim: "swapped" }), // IMADOKO, first window only (20th, 21st): refund 2 days; credited
  sub(2, { plan: "premium" }), // both IMADOKO windows (20th–22nd): 3 days; not a victim: no credit
  sub(3, { service_code: "DRIVENET", victim: "misdelivered" }), // plan not listed: no refund; credited ("active")
  sub(4, { service_code: "SPMAIL", victim: "swapped" }), // no window names SPMAIL: skipped, yet credited
  sub(5, {
    service_code: "SPMAIL",
    victim: "swapped",
    active_from: "2011-12-21T10:00:00+09:00",
    active_to: "2011-12-21T20:00:00+09:00",
  }), // only in the gap between IMADOKO's windows, inside the span: credited
  sub(6, { service_code: "SPMAIL", victim: "swapped", active_to: "2011-12-20T23:30:00+09:00" }), // left as it began: nothing
  sub(7, { plan: "premium", victim: "swapped", monthly_fee: "x" }), // rejected: qualifies no one
  sub(8, { service_code: "DRIVENET", plan: "voice-only" }), // DRIVENET 3 days
  sub(9, { service_code: "DRIVENET", plan: "premium", victim: "swapped" }), // DRIVENET 3 days; credited
];

const keyOf = (l: RefundLine) =>
  [l.subscriptionId, l.subscriberId, l.serviceCode, l.periodStart, l.unit, l.units, l.basis, l.amount, l.currency].join(
    "|",
  );

/** What the incident's standing lines must be: `hiwari compute`'s lines (the reference engine) on the same snapshot. */
async function computed(incident: IncidentInput, csv: string) {
  return (await runReference(parseIncident(incident), csv)).lines.map(keyOf).sort();
}
async function standing(incidentId: string) {
  return (await storedLinesOf(h.store, incidentId))
    .filter((l) => l.status === "active")
    .map(keyOf)
    .sort();
}

/** A run of `incident` on `csv` through the handlers (a new request id, a new version of the snapshot). */
async function runOn(incident: IncidentInput, csv: string, requestId: string) {
  const key = `snapshots/${incident.incidentId}.csv`;
  const versionId = h.s3.put(BUCKET, key, csv);
  return runThrough(h, h.deps, executionInput(h, incident, { key, versionId }, { requestId }));
}

describe("finalize and the run pipeline under contract v2 scope", () => {
  it("a first run stores exactly the lines hiwari compute gives: windows by where, goodwill to every victim active in the span", async () => {
    // Arrange
    const incident = wide("scope-first");
    const csv = csvWithColumns(COLUMNS, ROWS);

    // Act
    const done = await runOn(incident, csv, "first");

    // Assert: 310 yen, December 2011 (31 days): 2 days → floor(620 / 31) = 20; 3 days → floor(930 / 31) = 30
    expect(await standing(incident.incidentId)).toEqual(await computed(incident, csv));
    expect(done.counts).toMatchObject({ rows: 9, computed: 5, skipped: 3, rejected: 1, calculated: 4 + 5 });
    expect(done.totals).toEqual([
      { serviceCode: "DRIVENET", currency: "JPY", lines: 2, amount: "60" },
      { serviceCode: "IMADOKO", currency: "JPY", lines: 2, amount: "50" },
      { serviceCode: null, currency: "JPY", lines: 5, amount: "1000" },
    ]);
    const credited = (await storedLinesOf(h.store, incident.incidentId))
      .filter((l) => l.subscriptionId === null)
      .map((l) => l.subscriberId)
      .sort();
    expect(credited).toEqual(["S-1", "S-3", "S-4", "S-5", "S-9"]);
  });

  it("a rerun that narrows the scope voids exactly the lines and credits that left it; widening it again restores them", async () => {
    // Arrange
    const id = "scope-narrow";
    const csv = csvWithColumns(COLUMNS, ROWS);
    await runOn(wide(id), csv, "wide");

    // Act
    const narrowed = await runOn(narrow(id), csv, "narrow");
    const narrowStanding = await standing(id);
    const widened = await runOn(wide(id), csv, "wide again");

    // Assert: narrowing leaves S-8's DRIVENET line (voice-only no longer listed) and S-3's credit (misdelivered)
    expect(narrowStanding).toEqual(await computed(narrow(id), csv));
    expect(narrowed.counts).toMatchObject({ calculated: 0, adjusted: 0, voided: 2, unchanged: 7 });
    expect(widened.counts).toMatchObject({ calculated: 2, adjusted: 0, voided: 0, unchanged: 7 });
    expect(await standing(id)).toEqual(await computed(wide(id), csv));
    const s3credit = (await storedLinesOf(h.store, id)).find((l) => l.subscriberId === "S-3");
    expect(s3credit).toMatchObject({ status: "active", version: 3 });
  });

  it.each([
    ["after its batches", "batches"],
    ["after its batches and every shard, before complete", "shards"],
  ])(
    "a rerun interrupted %s, then resumed, counts exactly what it counts uninterrupted (its own changes as what they were)",
    async (_, upTo) => {
      // Arrange: two incidents run alike; then the same rerun (S-2's fee doubled: adjusted; S-10 new: calculated and
      // credited; the scope narrowed: 2 voided), uninterrupted on one, interrupted and resumed on the other
      const csv = csvWithColumns(COLUMNS, ROWS);
      const rerun = csvWithColumns(COLUMNS, [
        ...ROWS.map((r) => (r.subscriber_id === "S-2" ? { ...r, monthly_fee: "620" } : r)),
        sub(10, { victim: "swapped" }),
      ]);
      const [reference, id] = [`resume-ref-${upTo}`, `resume-${upTo}`];
      for (const incident of [reference, id]) await runOn(wide(incident), csv, "first");
      const expected = await runOn(narrow(reference), rerun, "rerun");
      const key = `snapshots/${id}.csv`;
      const input = executionInput(
        h,
        narrow(id),
        { key, versionId: h.s3.put(BUCKET, key, rerun) },
        { requestId: "rerun" },
      );
      const steps = runSteps(h, h.deps, input);
      expect((await steps.prepare()).status).toBe("ready");
      for (const child of steps.children()) await steps.compute(child);
      if (upTo === "shards") await steps.shards();

      // Act: the same request again: it resumes
      const resumed = await runThrough(h, h.deps, input);

      // Assert
      expect(expected.counts).toMatchObject({ calculated: 2, adjusted: 1, voided: 2 });
      expect(resumed.counts).toEqual(expected.counts);
      expect(resumed.totals).toEqual(expected.totals);
      expect(await standing(id)).toEqual(await computed(narrow(id), rerun));
    },
  );

  it("rows rejected in a rerun keep their stored lines and credits, as in v1", async () => {
    // Arrange
    const id = "scope-rejected";
    const incident = wide(id);
    await runOn(incident, csvWithColumns(COLUMNS, ROWS), "first");
    const before = await standing(id);
    // S-1's IMADOKO row and S-4's SPMAIL row turn bad; S-9 is gone from the snapshot.
    const rerun = ROWS.filter((r) => r.subscriber_id !== "S-9").map((r) =>
      r.subscriber_id === "S-1" || r.subscriber_id === "S-4" ? { ...r, monthly_fee: "-1" } : r,
    );

    // Act
    const done = await runOn(incident, csvWithColumns(COLUMNS, rerun), "rejected");

    // Assert: only S-9's refund and credit are voided; S-1 and S-4 keep theirs
    expect(done.counts).toMatchObject({ rejected: 3, calculated: 0, adjusted: 0, voided: 2 });
    const gone = before.filter((k) => k.includes("|S-9|"));
    expect(gone).toHaveLength(2);
    expect(await standing(id)).toEqual(before.filter((k) => !gone.includes(k)));
  });

  it("settles goodwill a page at a time, every credited subscriber once", async () => {
    // Arrange: 300 victims with a mail subscription only, about 5 a shard; finalize by hand with pages of 2
    const id = "scope-pages";
    const incident = wide(id);
    const rows = Array.from({ length: 300 }, (_, i) => sub(100 + i, { service_code: "SPMAIL", victim: "swapped" }));
    const key = `snapshots/${id}.csv`;
    const versionId = h.s3.put(BUCKET, key, csvWithColumns(COLUMNS, rows));
    const steps = runSteps(h, h.deps, executionInput(h, incident, { key, versionId }, { requestId: "pages" }));
    await steps.prepare();
    for (const child of steps.children()) await steps.compute(child);
    const plan = await loadPlan(steps.ref, h.deps().filesOf(steps.ref));

    // Act
    const pageSizes: number[] = [];
    let calculated = 0;
    for (let shard = 0; shard < SHARDS; shard++) {
      const tally: ShardTally = { counts: { ...ZERO_COUNTS }, totals: new ServiceTotals() };
      for await (const page of finalizeShard(plan.context, shard, h.store, tally, 2)) pageSizes.push(page.length);
      calculated += tally.counts.calculated;
    }

    // Assert
    expect(Math.max(...pageSizes)).toBe(2);
    expect(pageSizes.filter((n) => n === 2).length).toBeGreaterThan(64); // shards with more than one page
    expect(calculated).toBe(300);
    const credited = (await storedLinesOf(h.store, id)).map((l) => l.subscriberId);
    expect(new Set(credited).size).toBe(300);
    expect(credited).toHaveLength(300);
  });
});
