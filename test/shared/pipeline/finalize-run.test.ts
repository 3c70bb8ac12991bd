import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RefundLine } from "../../../shared/engine/refund-line";
import { type IncidentInput, parseIncident } from "../../../shared/input/incident";
import { SUBSCRIPTION_COLUMNS } from "../../../shared/input/subscription-row";
import { ServiceTotals } from "../../../shared/money/service-totals";
import { finalizeShard, type ShardTally } from "../../../shared/pipeline/finalize-run";
import { runIdOf, sha256 } from "../../../shared/pipeline/run-context";
import {
  completeStep,
  computeStep,
  failStep,
  finalizeShardStep,
  loadPlan,
  prepareStep,
  type RunFiles,
  SOURCE_BUILD,
} from "../../../shared/pipeline/run-steps";
import { manifestItems, sliceOfItem } from "../../../shared/pipeline/survey-snapshot";
import { lineGroupOf, lineIdOf } from "../../../shared/reconcile/line-identity";
import type { StoredLine } from "../../../shared/reconcile/reconcile";
import { type RunRecord, SHARDS, shardOf, ZERO_COUNTS } from "../../../shared/store/refund-store";
import { csvWithColumns, incidentDoc, runReference } from "../../helpers/factories";
import { MemoryStore } from "../../helpers/memory-store";
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

/** A run's files in memory (prepare's plan and manifest, the shards' results), per run id as on S3. */
class MemoryFiles implements RunFiles {
  readonly files = new Map<string, string>();
  async put(name: string, body: string): Promise<void> {
    this.files.set(name, body);
  }
  async get(name: string): Promise<string> {
    const text = this.files.get(name);
    if (text === undefined) throw new Error(`${name}: no such file`);
    return text;
  }
  async putStream(name: string, body: AsyncIterable<string>): Promise<void> {
    let text = "";
    for await (const piece of body) text += piece;
    this.files.set(name, text);
  }
}

/** A store that keeps no count of stored lines on its runs: every run reads every shard's index, as before the count. */
class UncountedStore extends MemoryStore {
  override async putRun(run: RunRecord): Promise<void> {
    const { stored: _, ...rest } = run;
    await super.putRun(rest);
  }
}

type Ending = "completes" | "stops after its batches" | "fails after its batches";

/**
 * A run through the pure steps on a store in memory: prepare, every batch, every shard of finalize, complete; or
 * stopped after its batches (the same request then resumes it), or failed there (recorded failed, lock given up).
 */
async function runInMemory(
  store: MemoryStore,
  files: Map<string, MemoryFiles>,
  incident: IncidentInput,
  csv: string,
  requestId: string,
  {
    dryRun = false,
    ending = "completes",
    build = SOURCE_BUILD,
    computeBuilds = [build],
    finalizeBuild = build,
    beforeBatches = async () => {},
  }: {
    dryRun?: boolean;
    ending?: Ending;
    build?: string;
    computeBuilds?: string[];
    finalizeBuild?: string;
    /** What happens between prepare and the batches (a step of another build that wrote, in a test). */
    beforeBatches?: (runId: string) => Promise<void>;
  } = {},
): Promise<RunRecord | undefined> {
  const bytes = new TextEncoder().encode(csv);
  const snapshot = {
    name: "subs.csv",
    async *stream() {
      yield bytes;
    },
    range: async (start: number, end: number) => bytes.subarray(start, end),
  };
  const text = JSON.stringify(incident);
  const runFiles = files.get(requestId) ?? new MemoryFiles();
  files.set(requestId, runFiles);
  const deps = { store, snapshot, files: runFiles, build };
  const input = { incidentDocument: incident, incidentDigest: sha256(text), requestId, dryRun, batchSize: 3 };
  const out = await prepareStep({ ...input, requestedBy: "finance", reason: "test" }, deps);
  if (out.status !== "ready") throw new Error(`${requestId}: ${out.status}`);
  await beforeBatches(out.runId);
  // Each batch once per build given, in order: a retried Map child, of another build after a deploy
  for (const item of manifestItems(await runFiles.get(out.manifest)))
    for (const computeBuild of computeBuilds)
      await computeStep(out, [sliceOfItem(item)], { ...deps, build: computeBuild });
  if (ending === "fails after its batches") await failStep(out, "Error: a step failed", deps);
  if (ending !== "completes") return undefined;
  for (const shard of out.shards) await finalizeShardStep(out, shard, { ...deps, build: finalizeBuild });
  return completeStep(out, deps);
}

/** How many lines (any status) each shard of the incident holds. */
function linesPerShard(store: MemoryStore, incidentId: string): number[] {
  const counts = new Array<number>(SHARDS).fill(0);
  for (const line of store.lines.values())
    if (line.lineId.startsWith(`${incidentId}#`)) {
      const shard = shardOf(lineGroupOf(incidentId, line));
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
  return counts;
}

describe("the count of stored lines (RunRecord.stored)", () => {
  const id = "counted";
  const rowArb = fc.record({
    present: fc.boolean(),
    service_code: fc.constantFrom("IMADOKO", "DRIVENET", "SPMAIL"),
    plan: fc.constantFrom("basic", "premium", "voice-only"),
    victim: fc.constantFrom("", "swapped", "misdelivered"),
    monthly_fee: fc.constantFrom("310", "620", "x"),
  });
  const runArb = fc.record({
    rows: fc.array(rowArb, { minLength: 12, maxLength: 12 }),
    scope: fc.constantFrom("wide", "narrow"),
    kind: fc.constantFrom<"run" | "dry run" | "identical rerun" | Ending>(
      "run",
      "dry run",
      "identical rerun",
      "stops after its batches",
      "fails after its batches",
    ),
  });

  it("changes nothing a run stores or counts, and always equals the lines each shard holds (any runs, any order)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(runArb, { minLength: 1, maxLength: 5 }), async (runs) => {
        // Arrange: the same runs on a store that keeps the count and one that does not
        const [counted, uncounted] = [new MemoryStore(), new UncountedStore()];
        const [countedFiles, uncountedFiles] = [new Map<string, MemoryFiles>(), new Map<string, MemoryFiles>()];
        let last: { csv: string; incident: IncidentInput } | undefined;
        let failed = false;
        for (const [n, run] of runs.entries()) {
          const rows = run.rows.flatMap(({ present, ...cells }, i) => (present ? [sub(i + 1, cells)] : []));
          const fresh = { csv: csvWithColumns(COLUMNS, rows), incident: run.scope === "wide" ? wide(id) : narrow(id) };
          const { csv, incident } = run.kind === "identical rerun" && last ? last : fresh;
          const options = {
            dryRun: run.kind === "dry run",
            ending:
              run.kind === "stops after its batches" || run.kind === "fails after its batches" ? run.kind : undefined,
          };
          // Act: a run stopped after its batches is resumed by the next step of the sequence as its own request
          const request = `r-${n}`;
          const a = await runInMemory(counted, countedFiles, incident, csv, request, options);
          const b = await runInMemory(uncounted, uncountedFiles, incident, csv, request, options);
          if (options.ending === "stops after its batches") {
            await runInMemory(counted, countedFiles, incident, csv, request);
            await runInMemory(uncounted, uncountedFiles, incident, csv, request);
          }
          if (!options.dryRun) last = { csv, incident };

          // Assert: the same lines, counts and totals; the count, where recorded, is what the shards hold
          expect([...counted.lines.entries()]).toEqual([...uncounted.lines.entries()]);
          expect(a?.counts).toEqual(b?.counts);
          expect(a?.totals).toEqual(b?.totals);
          // A failed run may have written anything: no run after it knows the count, nor records one
          if (options.ending === "fails after its batches" && !options.dryRun) failed = true;
          const record = await counted.getRun(id, runIdOf(id, request));
          if (record?.status === "completed" && !record.dryRun)
            expect(record.stored).toEqual(failed ? undefined : linesPerShard(counted, id));
        }
      }),
      { numRuns: 40 },
    );
  });

  it("lets an identical rerun and a preview skip every shard's index when the last run counted; a failed run stops that", async () => {
    // Arrange
    const store = new MemoryStore();
    const files = new Map<string, MemoryFiles>();
    const csv = csvWithColumns(COLUMNS, ROWS);
    const first = await runInMemory(store, files, wide(id), csv, "first");
    const indexReads = () => store.calls.filter((c) => c.startsWith("linesOfShard")).length;

    // Act + Assert: the first run counted every line it created (9: 4 refunds, 5 credits)
    expect(first?.stored).toEqual(linesPerShard(store, id));
    expect(first?.stored?.reduce((a, b) => a + b)).toBe(9);
    store.calls.length = 0;
    const preview = await runInMemory(store, files, wide(id), csv, "preview", { dryRun: true });
    const rerun = await runInMemory(store, files, wide(id), csv, "rerun");
    expect(indexReads()).toBe(0);
    expect(preview?.counts).toMatchObject({ unchanged: 9 });
    expect(rerun?.counts).toMatchObject({ unchanged: 9 });
    expect(rerun?.stored).toEqual(first?.stored);

    // A narrower scope leaves lines no run produces: their shards are read, the others not, and the count holds
    const narrowed = await runInMemory(store, files, narrow(id), csv, "narrow");
    expect(narrowed?.counts).toMatchObject({ voided: 2 });
    expect(indexReads()).toBe(2);
    expect(narrowed?.stored).toEqual(linesPerShard(store, id));

    // A run that failed may have written anything: the next run reads every shard and records no count
    await runInMemory(store, files, wide(id), csv, "failed", { ending: "fails after its batches" });
    store.calls.length = 0;
    const after = await runInMemory(store, files, wide(id), csv, "after");
    expect(indexReads()).toBe(SHARDS);
    expect(after?.stored).toBeUndefined();
  });

  it("trusts no count in a run whose steps ran another build than its prepare, nor in one resumed by another build", async () => {
    // Arrange: a first run of build "a" counts
    const store = new MemoryStore();
    const files = new Map<string, MemoryFiles>();
    const csv = csvWithColumns(COLUMNS, ROWS);
    expect((await runInMemory(store, files, wide(id), csv, "first", { build: "a" }))?.stored).toBeDefined();
    const indexReads = () => store.calls.filter((c) => c.startsWith("linesOfShard")).length;

    // Act + Assert: finalized by build "b" (a deploy during the run): every shard's index read, no count recorded
    store.calls.length = 0;
    const deployed = await runInMemory(store, files, wide(id), csv, "deployed", { build: "a", finalizeBuild: "b" });
    expect(indexReads()).toBe(SHARDS);
    expect(deployed?.stored).toBeUndefined();

    // Batches of build "b" record no counts in their books: finalize, of the plan's build, trusts none either
    const other = new MemoryStore();
    await runInMemory(other, files, wide(id), csv, "first", { build: "a" });
    other.calls.length = 0;
    const batches = await runInMemory(other, files, wide(id), csv, "batches", { build: "a", computeBuilds: ["b"] });
    const books = [...other.batches.entries()].filter(([k]) => k.startsWith(runIdOf(id, "batches")));
    expect(books.flatMap(([, b]) => [...b.books.values()]).some((book) => "found" in book)).toBe(false);
    expect(other.calls.filter((c) => c.startsWith("linesOfShard"))).toHaveLength(SHARDS);
    expect(batches?.stored).toBeUndefined();

    // A batch of build "b" (a deploy) wrote a line build "a" does not produce, then failed; its retry of build "a"
    // (rolled back) overwrites its books with counts. The line is found by reading the index, and voided
    const rolled = new MemoryStore();
    await runInMemory(rolled, files, wide(id), csv, "first", { build: "a" });
    const [model] = [...rolled.lines.values()].filter((l) => l.subscriptionId !== null);
    const stray = { subscriptionId: "C-99", subscriberId: "S-99", periodStart: model?.periodStart ?? null };
    const strayId = lineIdOf(id, stray);
    rolled.calls.length = 0;
    const retried = await runInMemory(rolled, files, wide(id), csv, "rolled back", {
      build: "a",
      beforeBatches: async (runId) => {
        await rolled.noteBuild(runId, "b");
        const line = { ...(model as StoredLine), ...stray, lineId: strayId, version: 1, runId, change: "calculated" };
        rolled.lines.set(strayId, line as StoredLine);
      },
    });
    expect(rolled.calls.filter((c) => c.startsWith("linesOfShard"))).toHaveLength(SHARDS);
    expect(rolled.lines.get(strayId)).toMatchObject({ status: "voided", version: 2 });
    expect(retried?.counts).toMatchObject({ voided: 1 });
    expect(retried?.stored).toBeUndefined();

    // Stopped after batches of build "a", resumed by build "b": counts nothing, though no run ran between
    const again = new MemoryStore();
    await runInMemory(again, files, wide("other"), csv, "first", { build: "a" });
    const more = csvWithColumns(COLUMNS, [...ROWS, sub(10, { victim: "swapped" })]);
    await runInMemory(again, files, wide("other"), more, "upgraded", { build: "a", ending: "stops after its batches" });
    await runInMemory(again, files, wide("other"), more, "upgraded", { build: "b", ending: "stops after its batches" });
    // Resumed again by build "b", as its last attempt: still nothing, the first attempt's lines are not vouched for
    const resumed = await runInMemory(again, files, wide("other"), more, "upgraded", { build: "b" });
    expect(resumed?.counts).toMatchObject({ calculated: 2 });
    expect(resumed?.stored).toBeUndefined();
  });

  it("notes each build once a run: later steps of it read the note, a step of another build adds its own", async () => {
    // Arrange
    const store = new MemoryStore();
    const files = new Map<string, MemoryFiles>();
    const csv = csvWithColumns(COLUMNS, ROWS);
    const notes = () => store.calls.filter((c) => c.startsWith("noteBuild"));

    // Act: one run of build "a" (every batch and 64 shards), another whose finalize is of build "b"
    const first = await runInMemory(store, files, wide(id), csv, "first", { build: "a" });
    const once = notes();
    store.calls.length = 0;
    const deployed = await runInMemory(store, files, wide(id), csv, "deployed", { build: "a", finalizeBuild: "b" });

    // Assert: one write each; the second run's shards saw build "a" beside their own, so it counts nothing
    expect(once).toEqual([`noteBuild ${first?.runId} a`]);
    expect(notes()).toEqual([`noteBuild ${deployed?.runId} a`, `noteBuild ${deployed?.runId} b`]);
    expect(first?.stored).toBeDefined();
    expect(deployed?.stored).toBeUndefined();
  });

  it("counts a run's batches once per store: its other shards rely on that, another store's are counted", async () => {
    // Arrange
    const store = new MemoryStore();
    const files = new Map<string, MemoryFiles>();
    const csv = csvWithColumns(COLUMNS, ROWS);
    const counts = (s: MemoryStore) => s.calls.filter((c) => c.startsWith("countBatches"));

    // Act: a run through its 64 shards; then the same run (same request) on another store
    const first = await runInMemory(store, files, wide(id), csv, "first");
    const other = new MemoryStore();
    await runInMemory(other, new Map(), wide(id), csv, "first");

    // Assert: one count each (complete reads the batches themselves)
    expect(counts(store)).toEqual([`countBatches ${id} ${first?.runId}`]);
    expect(counts(other)).toEqual([`countBatches ${id} ${first?.runId}`]);
  });

  it("counts a line this run created as created, not found, when a retried batch reads it back", async () => {
    // Arrange: a first run with a count, then a rerun adding S-10, whose batch is computed twice
    const store = new MemoryStore();
    const files = new Map<string, MemoryFiles>();
    const csv = csvWithColumns(COLUMNS, ROWS);
    await runInMemory(store, files, wide(id), csv, "first");
    const more = csvWithColumns(COLUMNS, [...ROWS, sub(10, { victim: "swapped" })]);
    await runInMemory(store, files, wide(id), more, "more", { ending: "stops after its batches" });

    // Act: resumed, every batch again, each reading what it wrote
    const done = await runInMemory(store, files, wide(id), more, "more");

    // Assert: S-10's refund and credit are the only lines created; the count is what the shards hold
    expect(done?.counts).toMatchObject({ calculated: 2, unchanged: 9 });
    expect(done?.stored).toEqual(linesPerShard(store, id));
    expect(done?.stored?.reduce((a, b) => a + b)).toBe(11);
  });
});
