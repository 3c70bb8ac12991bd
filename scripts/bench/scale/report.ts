import { addStoreTally, emptyStoreTally, ITEM_KINDS, type ItemKind, type StoreTally } from "./counting-store";
import { MAX_ITEM_BYTES } from "./item-size";
import { FUNCTIONS, MAX_PUT_OBJECT_BYTES, MAX_STATE_PAYLOAD_BYTES, STEPS, type StepName } from "./limits";
import { addObjectTally, emptyObjectTally } from "./measured-run-files";
import type { StepResult } from "./step-result";

/** What the orchestrator knows besides the step processes' results. */
export interface RunFacts {
  rows: number;
  snapshotBytes: number;
  batchSize: number;
  slices: number;
  children: number;
  shards: number;
  jobs: number;
  /** The execution's input, and the state after prepare (input + `prepared`), as JSON. */
  executionInputBytes: number;
  stateAfterPrepareBytes: number;
  /** Seconds each step took here, from its first process's spawn to its last one's exit. */
  wallSeconds: Record<StepName, number> & { generate: number; bundle: number; total: number };
  /** The bench's folder at the end (its own snapshot included), bytes. */
  diskBytes: number;
  /** Counts of the completed run, from complete's output. */
  counts: Record<string, number> | undefined;
}

const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;
/** A JSON array of `n` values whose JSON takes `total` bytes in all. */
const arrayBytes = (n: number, total: number) => 2 + total + Math.max(0, n - 1);

export interface ScaleReport {
  rows: number;
  snapshotBytes: number;
  batchSize: number;
  slices: number;
  children: number;
  shards: number;
  lines: { refund: number; goodwill: number };
  processes: Record<StepName, number>;
  peakRssMB: Record<StepName, number>;
  memoryMB: Record<StepName, number>;
  loadedRssMB: Record<StepName, number>;
  /**
   * Per step, the peak of a process that ran a single invocation (prepare, complete: their one; compute: the first
   * child; finalize: the first shard): one cold invocation's. `peakRssMB` is the largest over the step's processes,
   * some of which ran many invocations in turn as a warm container does.
   */
  coldInvocationPeakRssMB: Record<StepName, number>;
  wallSeconds: RunFacts["wallSeconds"];
  workSeconds: Record<StepName, number>;
  longestInvocationSeconds: Record<StepName, number>;
  maxStatePayloadBytes: number;
  maxStatePayload: string;
  payloadBytes: Record<string, number>;
  mapResultBytes: number;
  mapResultAsDefinedBytes: number;
  mapResultKeptBytes: number;
  maxItemBytes: number;
  maxItemKind: ItemKind;
  items: StoreTally["items"];
  dynamodbCalls: { batchWriteItem: number; putItem: number; batchGetItem: number; keysRead: number };
  maxObjectBytes: number;
  maxObjectName: string;
  objects: number;
  accounting: { rows: number; computed: number; skipped: number; rejected: number; ok: boolean };
  diskBytes: number;
  ok: boolean;
  failed: string[];
  warnings: string[];
}

/** Puts the step processes' measurements together and checks them against the limits. */
export function buildReport(facts: RunFacts, results: readonly StepResult[]): ScaleReport {
  const of = (step: StepName) => results.filter((r) => r.step === step);
  const perStep = <T>(f: (rs: StepResult[], step: StepName) => T) =>
    Object.fromEntries(STEPS.map((s) => [s, f(of(s), s)])) as Record<StepName, T>;
  const max = (rs: StepResult[], f: (r: StepResult) => number) => Math.max(0, ...rs.map(f));
  const sum = (rs: StepResult[], f: (r: StepResult) => number) => rs.reduce((a, r) => a + f(r), 0);

  const store = results.reduce((a, r) => addStoreTally(a, r.store), emptyStoreTally());
  const files = results.reduce((a, r) => addObjectTally(a, r.files), emptyObjectTally());
  const compute = of("compute");
  const finalize = of("finalize");
  const childOutputs = sum(compute, (r) => r.totalOutputBytes);
  const mapResultBytes = arrayBytes(facts.children, childOutputs);
  // `OutputPath: null` on the Compute task: each child hands the Map `{}`; `ResultPath: null` drops the array.
  const mapResultAsDefinedBytes = arrayBytes(facts.children, 2 * facts.children);
  const payloadBytes: Record<string, number> = {
    executionInput: facts.executionInputBytes,
    prepareOutput: max(of("prepare"), (r) => r.maxOutputBytes),
    stateAfterPrepare: facts.stateAfterPrepareBytes,
    childInput: max(compute, (r) => r.maxInputBytes),
    childOutput: max(compute, (r) => r.maxOutputBytes),
    mapResultAsDefined: mapResultAsDefinedBytes,
    shardInput: max(finalize, (r) => r.maxInputBytes),
    shardOutput: max(finalize, (r) => r.maxOutputBytes),
    inlineMapResult: arrayBytes(
      facts.shards,
      sum(finalize, (r) => r.totalOutputBytes),
    ),
    completeInput: max(of("complete"), (r) => r.maxInputBytes),
    completeOutput: max(of("complete"), (r) => r.maxOutputBytes),
  };
  const [maxStatePayload, maxStatePayloadBytes] = Object.entries(payloadBytes).reduce((a, b) => (b[1] > a[1] ? b : a));
  const maxItemKind = ITEM_KINDS.reduce((a, k) => (store.items[k].maxBytes > store.items[a].maxBytes ? k : a));
  const maxItemBytes = store.items[maxItemKind].maxBytes;

  const c = facts.counts ?? {};
  const accounting = {
    rows: c.rows ?? 0,
    computed: c.computed ?? 0,
    skipped: c.skipped ?? 0,
    rejected: c.rejected ?? 0,
    ok: false,
  };
  accounting.ok =
    accounting.rows === facts.rows && accounting.computed + accounting.skipped + accounting.rejected === facts.rows;

  const peakRssMB = perStep((rs) => mb(max(rs, (r) => r.maxRssKB)));
  const memoryMB = perStep((_, s) => FUNCTIONS[s].memoryMB);
  const longest = perStep((rs) => Math.round(max(rs, (r) => r.maxInvocationSeconds) * 100) / 100);

  const failed: string[] = [];
  const warnings: string[] = [];
  for (const s of STEPS) {
    if (of(s).length === 0) failed.push(`${s}: no process ran`);
    else if (peakRssMB[s] > memoryMB[s])
      failed.push(`${s}: peak RSS ${peakRssMB[s]} MB over ${FUNCTIONS[s].name}'s ${memoryMB[s]} MB`);
    if (longest[s] > FUNCTIONS[s].timeoutSeconds)
      warnings.push(
        `${s}: an invocation took ${longest[s]} s here, over ${FUNCTIONS[s].name}'s ${FUNCTIONS[s].timeoutSeconds} s limit`,
      );
  }
  if (maxStatePayloadBytes > MAX_STATE_PAYLOAD_BYTES)
    failed.push(`state payload: ${maxStatePayload} is ${maxStatePayloadBytes} B, over 256 KiB`);
  if (mapResultBytes > MAX_STATE_PAYLOAD_BYTES)
    warnings.push(
      `the children's outputs add up to ${mapResultBytes} B: over 256 KiB, were the Map to aggregate them (the Map's ResultWriter puts them in S3, and the Compute task's OutputPath drops them)`,
    );
  if (maxItemBytes > MAX_ITEM_BYTES)
    failed.push(`DynamoDB item: a ${maxItemKind} item is ${maxItemBytes} B, over 400 KB`);
  if (files.maxBytes > MAX_PUT_OBJECT_BYTES)
    failed.push(`S3 object: ${files.maxName} is ${files.maxBytes} B, over one PUT's 5 GB`);
  if (!accounting.ok)
    failed.push(
      `accounting: ${facts.rows} rows in the snapshot, the run judged ${accounting.rows} = ${accounting.computed} computed + ${accounting.skipped} skipped + ${accounting.rejected} rejected`,
    );

  return {
    rows: facts.rows,
    snapshotBytes: facts.snapshotBytes,
    batchSize: facts.batchSize,
    slices: facts.slices,
    children: facts.children,
    shards: facts.shards,
    lines: { refund: store.items.line.count, goodwill: store.items.goodwill.count },
    processes: perStep((rs) => rs.length),
    peakRssMB,
    memoryMB,
    loadedRssMB: perStep((rs) => mb(max(rs, (r) => r.loadedRssKB))),
    coldInvocationPeakRssMB: perStep((rs) => mb(rs.find((r) => r.invocations === 1)?.maxRssKB ?? 0)),
    wallSeconds: facts.wallSeconds,
    workSeconds: perStep((rs) => Math.round(sum(rs, (r) => r.workSeconds) * 10) / 10),
    longestInvocationSeconds: longest,
    maxStatePayloadBytes,
    maxStatePayload,
    payloadBytes,
    mapResultBytes,
    mapResultAsDefinedBytes,
    mapResultKeptBytes: 0,
    maxItemBytes,
    maxItemKind,
    items: store.items,
    dynamodbCalls: {
      batchWriteItem: store.batchWriteCalls,
      putItem: store.putItemCalls,
      batchGetItem: store.batchGetCalls,
      keysRead: store.keysRead,
    },
    maxObjectBytes: files.maxBytes,
    maxObjectName: files.maxName,
    objects: files.count,
    accounting,
    diskBytes: facts.diskBytes,
    ok: failed.length === 0,
    failed,
    warnings,
  };
}

const n = (x: number) => Math.round(x).toLocaleString("en-US");

/** The report as markdown: one row per step, then the payloads, items, objects and checks. */
export function renderReport(r: ScaleReport): string {
  const out: string[] = [];
  out.push(
    `## ${n(r.rows)} rows (${(r.snapshotBytes / 1e6).toFixed(1)} MB of CSV), ${n(r.slices)} slices of ${n(r.batchSize)}, ` +
      `${n(r.children)} Map children, ${r.shards} shards; lines: ${n(r.lines.refund)} refund + ${n(r.lines.goodwill)} goodwill`,
    "",
    "| step | function | processes | invocations | wall s | work s | longest invocation s (limit) | peak RSS MB / memory MB | RSS loaded MB | largest input B | largest output B |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  for (const s of STEPS) {
    const f = FUNCTIONS[s];
    out.push(
      `| ${s} | ${f.name} | ${r.processes[s]} | ${s === "compute" ? n(r.children) : s === "finalize" ? r.shards : 1} | ` +
        `${r.wallSeconds[s].toFixed(1)} | ${r.workSeconds[s].toFixed(1)} | ${r.longestInvocationSeconds[s]} (${f.timeoutSeconds}) | ` +
        `${r.peakRssMB[s]} / ${r.memoryMB[s]} (${Math.round((100 * r.peakRssMB[s]) / r.memoryMB[s])}%) | ${r.loadedRssMB[s]} | ` +
        `${n(stepInput(r, s))} | ${n(stepOutput(r, s))} |`,
    );
  }
  out.push(
    "",
    `one invocation alone in a fresh process peaked at ${r.coldInvocationPeakRssMB.compute} MB (compute: the first child) and ` +
      `${r.coldInvocationPeakRssMB.finalize} MB (finalize: the first shard); the peaks above are the largest of processes that ran ` +
      `up to ${n(Math.ceil((r.children - 1) / Math.max(1, r.processes.compute - 1)))} children or ` +
      `${Math.ceil((r.shards - 1) / Math.max(1, r.processes.finalize - 1))} shards in turn, as a warm container does.`,
    `wall: ${r.wallSeconds.total.toFixed(1)} s in all (snapshot written in ${r.wallSeconds.generate.toFixed(1)} s, steps bundled in ${r.wallSeconds.bundle.toFixed(1)} s); each process's start is in its step's wall time.`,
    "",
    `state payloads (limit 262,144 B): largest ${n(r.maxStatePayloadBytes)} B (${r.maxStatePayload}); ` +
      Object.entries(r.payloadBytes)
        .map(([k, v]) => `${k} ${n(v)}`)
        .join(", "),
    `Map result: the children's outputs add up to ${n(r.mapResultBytes)} B; as defined (each child's output dropped) ${n(r.mapResultAsDefinedBytes)} B, and the state keeps ${r.mapResultKeptBytes} B of it (ResultPath null).`,
    "",
    "| DynamoDB item | written | largest B | average B |",
    "|---|--:|--:|--:|",
  );
  for (const k of ITEM_KINDS) {
    const t = r.items[k];
    out.push(`| ${k} | ${n(t.count)} | ${n(t.maxBytes)} | ${t.count ? n(t.totalBytes / t.count) : "-"} |`);
  }
  out.push(
    "",
    `largest DynamoDB item: ${n(r.maxItemBytes)} B (${r.maxItemKind}; limit 409,600). Calls as the store would make them: ` +
      `${n(r.dynamodbCalls.batchWriteItem)} BatchWriteItem, ${n(r.dynamodbCalls.putItem)} PutItem/DeleteItem, ` +
      `${n(r.dynamodbCalls.batchGetItem)} BatchGetItem (${n(r.dynamodbCalls.keysRead)} keys read back).`,
    `run files: ${n(r.objects)} objects put, the largest ${n(r.maxObjectBytes)} B (${r.maxObjectName}).`,
    `accounting: ${n(r.accounting.rows)} rows = ${n(r.accounting.computed)} computed + ${n(r.accounting.skipped)} skipped + ${n(r.accounting.rejected)} rejected: ${r.accounting.ok ? "ok" : "WRONG"}.`,
    `disk: ${(r.diskBytes / 1e6).toFixed(0)} MB in the bench's folder at the end.`,
    "",
  );
  for (const w of r.warnings) out.push(`warning: ${w}`);
  if (r.ok)
    out.push("ok: every payload under 256 KiB, every item under 400 KB, every step's peak RSS under its memory");
  for (const f of r.failed) out.push(`FAIL: ${f}`);
  return `${out.join("\n")}\n`;
}

function stepInput(r: ScaleReport, s: StepName): number {
  const p = r.payloadBytes;
  return (
    { prepare: p.executionInput, compute: p.childInput, finalize: p.shardInput, complete: p.completeInput }[s] ?? 0
  );
}

function stepOutput(r: ScaleReport, s: StepName): number {
  const p = r.payloadBytes;
  return (
    { prepare: p.prepareOutput, compute: p.childOutput, finalize: p.shardOutput, complete: p.completeOutput }[s] ?? 0
  );
}
