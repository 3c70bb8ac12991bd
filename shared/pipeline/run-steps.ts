import { duplicatesOf } from "../engine/fast/plain-rows";
import { headerForIncident } from "../engine/snapshot-header";
import { PermanentError } from "../errors";
import { amountBefore } from "../events/event-of-change";
import { type Incident, parseIncident } from "../input/incident";
import type { SubscriptionHeader } from "../input/subscription-row";
import { ServiceTotals } from "../money/service-totals";
import { toJsonLine } from "../output/line-format";
import type { LineChange } from "../reconcile/reconcile";
import {
  addCounts,
  type BatchSummary,
  LockLostError,
  type RecordedCounts,
  type RefundStore,
  type RunRecord,
  SHARDS,
  type TotalLine,
  ZERO_COUNTS,
} from "../store/refund-store";
import { computeBatch } from "./compute-batch";
import { finalizeShard, type ShardTally } from "./finalize-run";
import { completeRun, LOCK_LEASE_MS, prepareRun } from "./prepare-run";
import { type RunContext, runIdOf, sha256 } from "./run-context";
import { manifestCsv, type Slice, sliceRows, surveySnapshot } from "./survey-snapshot";

/**
 * The steps of a run, in the state machine's order: prepare → compute each batch (the Map) → finalize each shard
 * → complete (or fail). The Lambdas call them on AWS with S3 and DynamoDB adapters; `hiwari run` calls them in
 * process with a file and DynamoDB Local. Steps pass each other only small references: what a later step needs
 * (the incident, the header, the duplicate ids, the slices) is in the run's files, written by prepare.
 */

/** The subscriptions snapshot, by bytes: a file, or an S3 object pinned to a version. */
export interface SnapshotBytes {
  readonly name: string;
  /** The whole snapshot, streamed. */
  stream(): AsyncIterable<Uint8Array>;
  /** The bytes [start, end). */
  range(start: number, end: number): Promise<Uint8Array>;
}

/** A run's working files: a folder under the state folder locally, a prefix of the bucket on AWS. */
export interface RunFiles {
  put(name: string, body: string): Promise<void>;
  get(name: string): Promise<string>;
  /**
   * Writes a file from pieces of text as they come, holding only a part of it at a time (a run's reject report can
   * be larger than any one string): whole or not at all, as `put`.
   */
  putStream(name: string, body: AsyncIterable<string>): Promise<void>;
}

export interface StepDeps {
  store: RefundStore;
  snapshot: SnapshotBytes;
  files: RunFiles;
  /**
   * Which build of hiwari runs the step (`HIWARI_BUILD`, a hash of its sources stamped into each bundle; SOURCE_BUILD
   * run from its sources). A run trusts its count of stored lines only while every step runs the build its prepare
   * ran: other code may produce other lines, and a line an earlier attempt created that a later one no longer
   * produces would be counted by neither.
   */
  build?: string;
}

/** The build of code run from its sources, not from a bundle (tests): {@link StepDeps.build}'s default. */
export const SOURCE_BUILD = "source";

/** Whether every step noted for the run (`RefundStore.noteBuild`) ran this build. */
const ranOnly = (noted: readonly string[], build: string): boolean => noted.every((b) => b === build);

/**
 * Notes this step's build for the run before it writes, unless a step of the same build noted it already (one
 * consistent read instead of a write a step; DynamoDB Local makes every reader wait for a write). Returns the builds
 * noted for the run, this one among them (read again after a write, as a step that always wrote first would).
 */
async function noteBuild(build: string, runId: string, store: RefundStore): Promise<readonly string[]> {
  const noted = await store.buildsOf(runId);
  if (noted.includes(build)) return noted;
  await store.noteBuild(runId, build);
  return store.buildsOf(runId); // read again after writing: a step of another build that noted meanwhile is seen
}

/** What a run is asked to do: the API's request, or `hiwari run`'s options. */
export interface PrepareInput {
  incidentDocument: unknown;
  incidentDigest: string;
  requestId: string;
  requestedBy: string;
  reason: string;
  dryRun: boolean;
  batchSize: number;
}

/** Thrown when the incident among a run's files is not the one the run was started with (its SHA-256 differs). */
export class IncidentChangedError extends PermanentError {
  constructor(name: string, expected: string, found: string) {
    super(`${name}: its SHA-256 is ${found}, not ${expected} as the run was started with; start a new run`);
    this.name = "IncidentChangedError";
  }
}

/**
 * The incident document a run was started with, read from the run's files and checked against the SHA-256 of its
 * bytes that start-run (or `hiwari run`) pinned in the execution's input.
 */
export async function readRunIncident(files: RunFiles, sha256Hex: string): Promise<unknown> {
  const text = await files.get(INCIDENT_FILE);
  const found = sha256(text);
  if (found !== sha256Hex) throw new IncidentChangedError(INCIDENT_FILE, sha256Hex, found);
  return JSON.parse(text);
}

/** Names a run between steps. */
export interface RunRef {
  incidentId: string;
  runId: string;
}

export type PrepareOutput =
  | (RunRef & { status: "already-completed" })
  | (RunRef & { status: "ready"; slices: number; shards: number[]; manifest: string; resumed: boolean });

/** The run's plan, written by prepare for the steps after it. */
interface Plan {
  incident: unknown;
  headerFields: string[];
  duplicates: string[];
  fresh: boolean;
  /**
   * How many lines each shard held at the run's start, when known (`storedAtStart`), for steps of `build` (absent
   * in plans written before it was kept).
   */
  stored?: number[];
  build?: string;
  dryRun: boolean;
  slices: number;
  /** Records after the header, as the survey counted them: every one must end computed, skipped or rejected. */
  rows: number;
  snapshot: string;
}

/** Manifest rows (slices) per child execution of the Map: the ItemBatcher's size (`hiwari run` gives a child one). */
export const SLICES_PER_CHILD = 4;

export const PLAN_FILE = "plan.json";
/**
 * The incident document, as start-run (or `hiwari run`) wrote it among the run's files: it travels to prepare by
 * reference (an incident of up to 1 MiB does not fit a state machine's 256 KiB input), pinned by its SHA-256.
 */
export const INCIDENT_FILE = "incident.json";
export const MANIFEST_FILE = "manifest.csv";
/** The run's reject report: every batch's rejected rows, in batch order, one JSON line each. */
export const REJECTS_FILE = "rejects.jsonl";
/** Where a batch leaves its rejected rows (only a batch with any): complete joins them into REJECTS_FILE. */
export const batchRejectsFile = (batchNo: number) => `rejects/batch-${String(batchNo).padStart(7, "0")}.jsonl`;
export const RUN_FILE = "run.json";
/** Where a dry run leaves the changes it would make: one file per batch and per shard. */
export const DRY_RUN_FOLDER = "dry-run";

/**
 * Prepare: the survey of the snapshot (header, digest, slices; duplicates by fingerprint, with a second pass only
 * when a fingerprint repeats), then the run's lock and record.
 * Throws UnusableSnapshotError / UnsafeSnapshotError before anything is taken or written.
 */
export async function prepareStep(input: PrepareInput, deps: StepDeps, now = new Date()): Promise<PrepareOutput> {
  const incident = parseIncident(input.incidentDocument);
  // Strict on a rerun: a rejected row keeps its stored lines, so its subscription must be known for sure.
  const runId = runIdOf(incident.incidentId, input.requestId);
  const strict = (await deps.store.listRuns(incident.incidentId)).some((r) => !r.dryRun && r.runId !== runId);
  const survey = await surveySnapshot(deps.snapshot.name, () => deps.snapshot.stream(), input.batchSize, {
    strict,
    incident,
  });
  const prepared = await prepareRun(
    {
      incident,
      incidentDigest: input.incidentDigest,
      snapshotName: deps.snapshot.name,
      snapshotDigest: survey.sha256,
      requestId: input.requestId,
      requestedBy: input.requestedBy,
      reason: input.reason,
      dryRun: input.dryRun,
      batchSize: input.batchSize,
    },
    deps.store,
    now,
  );
  const ref = { incidentId: incident.incidentId, runId: prepared.run.runId };
  if (prepared.kind === "already-completed") return { ...ref, status: "already-completed" };
  // A resumed run counts only if its earlier attempts did, with this build and the same count: a step of another
  // build (noted by the store; or a plan that cannot be read back) may have written lines this build does not
  // produce, and an attempt that counted nothing leaves every later one without a count.
  const build = deps.build ?? SOURCE_BUILD;
  const counted = async () => {
    const plan = await deps.files.get(PLAN_FILE).then(
      (text) => JSON.parse(text) as Plan,
      () => undefined,
    );
    return (
      plan?.build === build &&
      JSON.stringify(plan.stored) === JSON.stringify(prepared.stored) &&
      ranOnly(await deps.store.buildsOf(ref.runId), build)
    );
  };
  const stored = !prepared.resumed || (await counted()) ? prepared.stored : undefined;
  const plan: Plan = {
    incident: input.incidentDocument,
    headerFields: survey.headerFields,
    duplicates: [...survey.duplicates],
    fresh: prepared.fresh,
    ...(stored ? { stored } : {}),
    build,
    dryRun: input.dryRun,
    slices: survey.slices.length,
    rows: survey.rows,
    snapshot: deps.snapshot.name,
  };
  await deps.files.put(MANIFEST_FILE, manifestCsv(survey.slices));
  await deps.files.put(PLAN_FILE, JSON.stringify(plan));
  return {
    ...ref,
    status: "ready",
    slices: survey.slices.length,
    shards: Array.from({ length: SHARDS }, (_, i) => i),
    manifest: MANIFEST_FILE,
    resumed: prepared.resumed,
  };
}

/** What the steps after prepare rebuild from the plan. */
export interface LoadedPlan {
  context: RunContext;
  header: SubscriptionHeader;
  slices: number;
  rows: number;
}

/**
 * Reads the plan prepare wrote, for a step of `build`: the count of stored lines only if prepare ran the same build.
 * Lambdas keep it per run id (a warm container serves many batches of one run).
 */
export async function loadPlan(ref: RunRef, files: RunFiles, build = SOURCE_BUILD): Promise<LoadedPlan> {
  const plan = JSON.parse(await files.get(PLAN_FILE)) as Plan;
  const incident: Incident = parseIncident(plan.incident);
  const header = headerForIncident(plan.headerFields, incident);
  if (!header.ok) throw new Error(`${PLAN_FILE}: header: ${header.reason}`);
  const duplicates = duplicatesOf(plan.duplicates);
  return {
    context: {
      incident,
      runId: ref.runId,
      dryRun: plan.dryRun,
      fresh: plan.fresh,
      ...(plan.stored && plan.build === build ? { stored: plan.stored } : {}),
      duplicates,
    },
    header: header.header,
    slices: plan.slices,
    rows: plan.rows,
  };
}

/** The dry-run text of pages of changes, a page at a time. */
async function* dryRunText(pages: AsyncIterable<readonly LineChange[]>): AsyncIterable<string> {
  for await (const changes of pages) yield dryRunLines(changes);
}

/**
 * One JSON line per change: its kind, line id, version, what was owed before and the delta (as the change's event would
 * carry them, as decimal strings), and the line as `toJsonLine` writes it, so amounts stay exact at any size.
 */
function dryRunLines(changes: readonly LineChange[]): string {
  return changes
    .map((c) => {
      const before = amountBefore(c.previous);
      return (
        `{"change":${JSON.stringify(c.kind)},"lineId":${JSON.stringify(c.next.lineId)},"version":${c.next.version},` +
        `"previousAmount":"${before}",` +
        `"delta":"${c.next.amount - before}","line":${toJsonLine(c.next).trimEnd()}}\n`
      );
    })
    .join("");
}

export interface ComputeOutput {
  batches: number;
  counts: RecordedCounts;
}

/** Compute: the given slices, one batch each, renewing the run's lock before each. */
export async function computeStep(
  ref: RunRef,
  slices: readonly Slice[],
  deps: StepDeps,
  plan?: LoadedPlan,
): Promise<ComputeOutput> {
  const { context, header } = plan ?? (await loadPlan(ref, deps.files, deps.build));
  // Before anything is written: finalize trusts no count if a step of another build wrote for the run.
  await noteBuild(deps.build ?? SOURCE_BUILD, ref.runId, deps.store);
  let counts = { ...ZERO_COUNTS };
  for (const slice of slices) {
    await deps.store.renewLock(ref.incidentId, ref.runId, LOCK_LEASE_MS);
    const bytes = await deps.snapshot.range(slice.start, slice.end);
    const rows = sliceRows(deps.snapshot.name, slice, bytes, header.width);
    const result = await computeBatch(context, slice.batchNo, header, rows, deps.store, (rejects) =>
      deps.files.put(batchRejectsFile(slice.batchNo), rejects.map((r) => `${JSON.stringify(r)}\n`).join("")),
    );
    counts = addCounts(counts, result.summary.counts);
    if (context.dryRun)
      await deps.files.put(`${DRY_RUN_FOLDER}/batch-${slice.batchNo}.jsonl`, dryRunLines(result.changes));
  }
  return { batches: slices.length, counts };
}

/**
 * What finalize found in one shard: its changes' counts, the totals of what stands there besides batches', and how
 * many lines it holds after the run, when known (`ShardTally.stored`).
 */
export interface ShardResult {
  shard: number;
  counts: RecordedCounts;
  totals: TotalLine[];
  stored?: number;
}

/** Where finalize leaves a shard's result for complete (kept out of the state: 64 of them could pass 256 KiB). */
const shardFile = (shard: number) => `shards/shard-${shard}.json`;

/**
 * Per store, the runs (with their number of slices) whose batches this process found all recorded there. A batch's
 * record is never removed, so once all are there they stay there: the run's other shards this process
 * finalizes (every shard under `hiwari run`, a warm Lambda's next ones) need not count them again (63 Queries of 64
 * under `hiwari run`).
 */
const allBatchesRecorded = new WeakMap<RefundStore, Set<string>>();

export async function finalizeShardStep(
  ref: RunRef,
  shard: number,
  deps: Pick<StepDeps, "store" | "files" | "build">,
  plan?: LoadedPlan,
): Promise<ShardResult> {
  if (!Number.isInteger(shard) || shard < 0 || shard >= SHARDS) throw new Error(`shard ${shard}: not a shard`);
  const loaded = plan ?? (await loadPlan(ref, deps.files, deps.build));
  await deps.store.renewLock(ref.incidentId, ref.runId, LOCK_LEASE_MS);
  // A step of another build (a batch, another shard, an earlier attempt of this one) may have written lines this
  // build does not produce: then the count is not trusted (and, since the shard records none, not recorded).
  const build = deps.build ?? SOURCE_BUILD;
  const noted = await noteBuild(build, ref.runId, deps.store);
  const { stored: _, ...uncounted } = loaded.context;
  const context = ranOnly(noted, build) ? loaded.context : uncounted;
  const { slices } = loaded;
  // Voids are decided from what the batches produced: every batch must be recorded before any line is voided.
  const complete = allBatchesRecorded.get(deps.store) ?? new Set<string>();
  allBatchesRecorded.set(deps.store, complete); // before any await: shards at once share one set
  const counted = `${ref.runId}#${slices}`; // the plan's number too: no assumption that a run's never changes
  if (!complete.has(counted)) {
    const recorded = await deps.store.countBatches(ref.incidentId, ref.runId);
    if (recorded !== slices) throw new MissingBatchesError(ref.runId, recorded, slices);
    complete.add(counted);
  }
  const tally: ShardTally = { counts: { ...ZERO_COUNTS }, totals: new ServiceTotals() };
  const pages = finalizeShard(context, shard, deps.store, tally);
  // A dry run's changes go to its file page by page (at KDDI size a shard's goodwill alone is ~560,000 lines).
  if (context.dryRun) await deps.files.putStream(`${DRY_RUN_FOLDER}/shard-${shard}.jsonl`, dryRunText(pages));
  else for await (const _written of pages);
  const out: ShardResult = {
    shard,
    counts: tally.counts,
    totals: tally.totals.listAsText(),
    ...(tally.stored !== undefined ? { stored: tally.stored } : {}),
  };
  await deps.files.put(shardFile(shard), JSON.stringify(out));
  return out;
}

/** Thrown when finalize or complete finds fewer batches recorded than prepare cut: nothing may be voided. */
export class MissingBatchesError extends PermanentError {
  constructor(runId: string, recorded: number, expected: number) {
    super(`run ${runId}: ${recorded} of ${expected} batches are recorded; the run cannot complete`);
    this.name = "MissingBatchesError";
  }
}

/**
 * What is wrong with a run's accounting, or undefined when every row the survey counted ended once as computed,
 * skipped or rejected (`rows = computed + skipped + rejected`, and `rows` the survey's count).
 */
export function unaccountedRows(counts: RecordedCounts, surveyed: number): string | undefined {
  const ended = counts.computed + counts.skipped + counts.rejected;
  if (counts.rows !== surveyed) return `the batches judged ${counts.rows} rows where the snapshot holds ${surveyed}`;
  if (ended !== counts.rows)
    return `${counts.rows} rows, yet ${counts.computed} computed + ${counts.skipped} skipped + ${counts.rejected} rejected = ${ended}`;
  return undefined;
}

/** Thrown by complete when the rows do not add up: the run fails rather than report totals that lost a row. */
export class UnaccountedRowsError extends PermanentError {
  constructor(runId: string, what: string) {
    super(`run ${runId}: the rows do not add up: ${what}`);
    this.name = "UnaccountedRowsError";
  }
}

/**
 * Complete: the run's counts and totals (every batch's, plus every shard's), the run record and `Refund Run
 * Completed`, the lock released; the rejected rows and the run record into the run's files.
 */
export async function completeStep(
  ref: RunRef,
  deps: Pick<StepDeps, "store" | "files">,
  now = new Date(),
): Promise<RunRecord> {
  const plan = await loadPlan(ref, deps.files);
  const run = await deps.store.getRun(ref.incidentId, ref.runId);
  if (!run) throw new Error(`run ${ref.runId} of incident ${ref.incidentId} is not recorded`);
  const batches = await deps.store.batchesOf(ref.incidentId, ref.runId);
  if (batches.length !== plan.slices) throw new MissingBatchesError(ref.runId, batches.length, plan.slices);
  const shards: ShardResult[] = [];
  const missing: number[] = [];
  for (let shard = 0; shard < SHARDS; shard++) {
    const text = await deps.files.get(shardFile(shard)).catch(() => undefined);
    if (text === undefined) missing.push(shard);
    else shards.push(JSON.parse(text) as ShardResult);
  }
  if (missing.length > 0)
    throw new Error(
      `run ${ref.runId}: ${SHARDS - missing.length} of ${SHARDS} shards are finalized (not ${missing.join(", ")})`,
    );
  let counts = { ...ZERO_COUNTS };
  const totals = new ServiceTotals();
  for (const part of [...batches, ...shards]) {
    counts = addCounts(counts, part.counts);
    for (const t of part.totals ?? []) totals.add(t.serviceCode, t.currency, t.lines, BigInt(t.amount));
  }
  const unaccounted = unaccountedRows(counts, plan.rows);
  if (unaccounted) throw new UnaccountedRowsError(ref.runId, unaccounted);
  await deps.files.putStream(REJECTS_FILE, rejectReport(batches, deps.files));
  // The count of lines each shard holds now, if every shard knew it (a run that did not know it at its start, or
  // a shard finalized by code before it was kept, leaves it unknown: the next run reads the index).
  const stored = shards.every((s) => s.stored !== undefined)
    ? [...shards].sort((a, b) => a.shard - b.shard).map((s) => s.stored as number)
    : undefined;
  const done = await completeRun(
    run,
    { counts, totals: totals.listAsText(), ...(stored ? { stored } : {}) },
    deps.store,
    now,
  );
  await deps.files.put(RUN_FILE, `${JSON.stringify(done, null, 2)}\n`);
  return done;
}

/** The batches' reject files in batch order, one at a time: the report is never held whole. */
async function* rejectReport(batches: readonly BatchSummary[], files: RunFiles): AsyncIterable<string> {
  const rejected = batches.filter((b) => b.counts.rejected > 0).sort((a, b) => a.batchNo - b.batchNo);
  for (const b of rejected) yield await files.get(batchRejectsFile(b.batchNo));
}

/**
 * A Map child's own failure, recorded on the run before the child fails (on AWS the Map only says that a child
 * failed): `batch 3, 4: SnapshotChangedError: …`. The run's failure (failStep) then names it. A completed run is
 * left as it is.
 */
export async function recordBatchFailure(
  ref: RunRef,
  batches: readonly number[],
  error: string,
  deps: Pick<StepDeps, "store">,
): Promise<void> {
  const run = await deps.store.getRun(ref.incidentId, ref.runId);
  if (!run || run.status === "completed") return;
  const which = batches.length === 1 ? "batch" : "batches";
  await deps.store.putRun({ ...run, batchError: `${which} ${batches.join(", ")}: ${error}` });
}

/**
 * Interrupt: a local run stopped on a signal (`hiwari run` on SIGINT or SIGTERM) once its writes in flight are
 * done: recorded as interrupted, with why, and its lock given up (nothing of it is still writing). A completed or
 * failed run is left as it is. The same request resumes it: every batch again, each reading what it wrote.
 */
export async function interruptStep(ref: RunRef, why: string, deps: Pick<StepDeps, "store">): Promise<void> {
  const run = await deps.store.getRun(ref.incidentId, ref.runId);
  if (!run || run.status === "completed" || run.status === "failed") return;
  await deps.store.putRun({ ...run, status: "interrupted", error: why });
  await deps.store.releaseLock(ref.incidentId, ref.runId);
}

/**
 * An operator's recovery of a run that died holding its incident's lock (`hiwari unlock`): the lock released, and
 * the run that held it, if it is still recorded running, marked abandoned (with when), so that the history does
 * not show it running for ever. Returns the run id that held the lock, if any.
 */
export async function releaseAbandoned(
  incidentId: string,
  store: RefundStore,
  now = new Date(),
): Promise<string | undefined> {
  const holder = await store.breakLock(incidentId);
  const run = holder ? await store.getRun(incidentId, holder) : undefined;
  if (run?.status === "running")
    await store.putRun({
      ...run,
      status: "abandoned",
      error: `abandoned: its lock was released by an operator at ${now.toISOString()}`,
    });
  return holder;
}

/**
 * Fail: the error on the run record, and the lock given up: at once when nothing of the run can still be
 * writing (`drainMs` 0, in process), else after `drainMs`, so that a batch still in flight on AWS (a Map child
 * outlives the Map's failure by up to its time limit) cannot write under the next run's lock. A run already
 * completed, or already failed, is left as it is.
 */
export async function failStep(ref: RunRef, error: string, deps: Pick<StepDeps, "store">, drainMs = 0): Promise<void> {
  const run = await deps.store.getRun(ref.incidentId, ref.runId);
  // Completed: nothing to record. Failed already: the first record stands (the rule on the execution's status
  // change comes after the Catch's RecordFailure), and the lock was given up then.
  if (!run || run.status === "completed" || run.status === "failed") return;
  // A child's own error says more than the Map's "a child failed": it leads, the Map's error follows.
  const message = run.batchError ? `${run.batchError} (then: ${error})` : error;
  await deps.store.putRun({ ...run, status: "failed", error: message });
  if (drainMs === 0) await deps.store.releaseLock(ref.incidentId, ref.runId);
  else
    await deps.store.renewLock(ref.incidentId, ref.runId, drainMs).catch((e) => {
      if (!(e instanceof LockLostError)) throw e; // not this run's lock any more: nothing to give up
    });
}
