import { randomUUID } from "node:crypto";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { ExecutionInput } from "../../shared/api/run-request";
import { inPool } from "../../shared/async/in-pool";
import { emptySnapshot, snapshotHeader, UnusableSnapshotError } from "../../shared/engine/snapshot-header";
import type { Incident } from "../../shared/input/incident";
import { runIdOf, sha256 } from "../../shared/pipeline/run-context";
import {
  DRY_RUN_FOLDER,
  INCIDENT_FILE,
  interruptStep,
  MANIFEST_FILE,
  type PrepareOutput,
  REJECTS_FILE,
  type RunRef,
} from "../../shared/pipeline/run-steps";
import { manifestItems, UnsafeSnapshotError } from "../../shared/pipeline/survey-snapshot";
import { LockLostError, RequestMismatchError, RunLockedError, type RunRecord } from "../../shared/store/refund-store";
import { accountingRow, n, totalRow } from "../format";
import { diskFullError } from "../io/disk-space";
import { FileRecordSource } from "../io/file-record-source";
import { type LocalEnvironment, openLocalEnvironment } from "../io/local-environment";
import { LOCAL_BUCKET, localLambdaContext, localRunDeps, runFolder } from "../io/local-run-files";
import { type PublishingAlong, publishAlong } from "../io/publish-along";
import { EXIT, InterruptedError, LocalStateError, UsageError } from "../usage-error";
import { checkReadable, readIncidentFile } from "./compute";

export interface RunOptions {
  incident: string;
  subscriptions: string;
  state: string;
  reason: string;
  by: string;
  dryRun?: boolean;
  json?: boolean;
  requestId?: string;
  /** Rows per batch, as given on the command line; default LOCAL_BATCH_SIZE. */
  batchSize?: string;
}

/**
 * Rows per batch of a local run, unless `--batch-size` says otherwise. Larger than the API's (1,000, at most
 * 2,000: a Lambda must finish its batch in minutes): here no batch has a time limit, and each batch writes one
 * book item per shard it touches (64 shards: a batch of 1,000 rows touches them all), so fewer batches mean
 * fewer writes; on the sample a rerun took 1.74x the raw read with batches of 4,000 rows where it took 2.39x with
 * 1,000 (docs/performance.md, "hiwari run against its ceilings"). A resumed run redoes at most one batch.
 */
export const LOCAL_BATCH_SIZE = 5_000;

/**
 * What `hiwari run` may leave out: `by` (the operating system's user, {@link userName}) and `reason` (an incident's
 * first run is the "initial run"; a rerun must say why: see {@link reasonOf}).
 */
export type RunInput = Omit<RunOptions, "reason" | "by"> & Partial<Pick<RunOptions, "reason" | "by">>;

/** The reason an incident's first run is recorded with when `--reason` is not given. */
export const INITIAL_REASON = "initial run";

/** Who runs hiwari when `--by` is not given: the operating system's user name, else USER, else "unknown". */
export function userName(): string {
  try {
    const { username } = userInfo();
    if (username) return username;
  } catch {
    // No entry in the user database for this uid (a container started with an arbitrary uid): USER, if set.
  }
  return process.env.USER || "unknown";
}

/**
 * How many of the Map's children, and of finalize's shards, work at once, as the state machine's Maps do: enough
 * that DynamoDB Local always has calls waiting (one child's batch has a dozen writes, then its books), so that its
 * own pace, not the gaps between one batch and the next, sets the run's (docs/performance.md, `bench:write`).
 */
const CHILD_CONCURRENCY = 4;
const FINALIZE_CONCURRENCY = 8;

/** A task stopped by the signal: reported by the pool only when no other task failed otherwise. */
const stoppedBySignal = (e: unknown) => e instanceof InterruptedError;

/**
 * `hiwari run`: the whole pipeline on one machine. DynamoDB Local holds the tables under the state folder; the
 * Lambda handlers themselves run in process, in the state machine's order and with its payloads (prepare, the
 * Map's children over the manifest, finalize per shard, complete, or fail), with local adapters (a file, a
 * folder); the stream is fed to the publish-events handler as the run writes (publishAlong) and once more at its
 * end, whose bus appends to <state>/events.jsonl.
 * The run's files (manifest, plan, rejects, dry-run changes) are in <state>/runs/<runId>.
 */
export async function run(input: RunInput, held?: LocalEnvironment): Promise<number> {
  // Resolved once DynamoDB Local can tell whether the incident was run before (reasonOf).
  const options: RunOptions = { ...input, by: input.by ?? userName(), reason: input.reason ?? "" };
  const { bytes: incidentBytes, text: incidentText, incident } = readIncidentFile(options.incident);
  const batchSize = options.batchSize === undefined ? LOCAL_BATCH_SIZE : Number(options.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new UsageError(`--batch-size: must be a positive whole number (got ${options.batchSize})`);
  checkReadable(options.subscriptions);
  // A header the run could not use is refused before anything starts or is written under --state.
  await checkSnapshotHeader(options.subscriptions, incident);
  const requestId = options.requestId ?? randomUUID();
  const ref = { incidentId: incident.incidentId, runId: runIdOf(incident.incidentId, requestId) };
  const runDir = runFolder(options.state, ref.runId);

  // The handlers load while DynamoDB Local starts (its JVM takes seconds; they take a few tenths on the other core).
  const handlers = Promise.all([
    import("../../functions/prepare-run/handler"),
    import("../../functions/compute-batch/handler"),
    import("../../functions/finalize-run/handler"),
  ]);
  handlers.catch(() => {}); // awaited below; not an unhandled rejection if DynamoDB Local fails first

  // The state folder's environment: its own, or one its caller holds (hiwari approve), left open after.
  let env: LocalEnvironment;
  if (held) env = held;
  else {
    const starting = startPhase("starting DynamoDB Local");
    env = await openLocalEnvironment(options.state).catch((e: unknown) => {
      starting.stop();
      throw diskFullError(e, options.state, resumeAfterFreeing(options, requestId)) ?? e;
    });
    starting.end("DynamoDB Local started");
  }
  const [{ makeHandler: makePrepare }, { makeHandler: makeCompute }, finalize] = await handlers.catch(
    async (e: unknown) => {
      if (!held) await env.stop().catch(() => {}); // the import's failure is the one to tell
      throw e;
    },
  );
  try {
    options.reason = await reasonOf(input.reason, env, ref);
  } catch (e) {
    if (!held) await env.stop();
    throw e;
  }
  // A generated request id is the only way back to this run if it stops: said before anything is written.
  if (options.requestId === undefined)
    process.stderr.write(
      `hiwari run: request id ${requestId} (run ${ref.runId}); to resume: --request-id ${requestId}\n`,
    );
  // SIGINT (Ctrl-C) or SIGTERM: no new batch or shard is taken; the ones in flight finish (or fail); then the run is
  // recorded as interrupted, its lock given up, DynamoDB Local stopped, and the command that resumes it printed.
  let stopSignal: "SIGINT" | "SIGTERM" | undefined;
  const onSignal = (signal: "SIGINT" | "SIGTERM") => {
    if (stopSignal) return;
    stopSignal = signal;
    process.stderr.write(`\nhiwari: ${signal}: stopping once the writes in flight are done\n`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const interrupted = () =>
    stopSignal
      ? new InterruptedError(
          stopSignal,
          `interrupted by ${stopSignal}: run ${ref.runId} stopped after its writes in flight and is recorded as ` +
            `interrupted (request id ${requestId}). Resume it: ${resumeCommand(options, requestId)}`,
        )
      : undefined;
  const checkSignal = () => {
    const e = interrupted();
    if (e) throw e;
  };
  const diedError = () => {
    const died = env.db.died();
    return died
      ? new LocalStateError(
          `${died}. The run was not finished; what it stored is kept under ${join(options.state, "dynamodb")}. ` +
            `Resume it: ${resumeCommand(options, requestId)}`,
        )
      : undefined;
  };
  // The run's events, published while it writes (not on a dry run, which writes no line).
  let along: PublishingAlong | undefined;
  try {
    const deps = localRunDeps(env.store, options.state);
    const depsOf = () => deps;
    const context = localLambdaContext("hiwari-run");
    // Events of changes stored by an earlier run that died before publishing go out first. A dry run neither reads
    // nor publishes the stream: it writes no line, and those events go out with the next run that writes.
    const writes = !options.dryRun;
    if (writes)
      await publish(env, {
        name: "publishing the events of earlier runs",
        said: (handled) => (handled > 0 ? `published ${n(handled)} events of earlier runs` : false),
      });
    // The state machine's input, as start-run builds it on AWS: the incident left among the run's files and passed
    // by reference (pinned by the digest of its bytes); the snapshot "location" is the file.
    const files = deps.filesOf(ref);
    const left = await files.get(INCIDENT_FILE).catch(() => undefined);
    if (left === undefined) await files.put(INCIDENT_FILE, incidentText);
    else if (left !== incidentText) throw new UsageError(new RequestMismatchError(ref.runId, "incident").message);
    const input: ExecutionInput = {
      ...ref,
      requestId,
      requestedBy: options.by,
      reason: options.reason,
      dryRun: Boolean(options.dryRun),
      batchSize,
      incidentDigest: sha256(incidentBytes),
      incident: { ...files.location(INCIDENT_FILE), sha256: sha256(incidentText) },
      snapshot: { bucket: LOCAL_BUCKET, key: options.subscriptions },
    };
    const preparing = startPhase("prepare");
    const prepared = (await makePrepare(depsOf)(input, context).catch((e) => {
      preparing.stop();
      if (
        e instanceof UnusableSnapshotError ||
        e instanceof UnsafeSnapshotError ||
        e instanceof RunLockedError ||
        e instanceof RequestMismatchError
      )
        throw new UsageError(e.message);
      throw e;
    })) as PrepareOutput;
    preparing.end(
      prepared.status === "already-completed" ? "prepare done (the request was completed before)" : "prepare done",
    );
    if (prepared.status === "already-completed") {
      const published = writes ? await publish(env) : { handled: 0 };
      const done = (await env.store.getRun(ref.incidentId, ref.runId)) as RunRecord;
      report(
        done,
        options,
        env.eventsFile,
        published.handled,
        "this request was completed before: nothing was run again",
      );
      return EXIT.ok;
    }
    let done: RunRecord;
    let phase: Phase | undefined;
    if (writes) along = publishAlong((counted) => env.publishPending(counted));
    try {
      // The Map: the manifest's rows, as the CSV item reader gives them, one per child. On AWS the ItemBatcher gives
      // a child SLICES_PER_CHILD of them, to spread a Lambda's start over several; a local child starts nothing, and
      // one slice each lets the pool keep CHILD_CONCURRENCY of them busy to the end (ten slices in children of four
      // kept three busy, then two).
      const items = manifestItems(await files.get(MANIFEST_FILE));
      const compute = makeCompute(depsOf);
      const batching = startPhase("batches", items.length);
      phase = batching;
      const children = items.map((item) => [item]);
      await inPool(
        children,
        CHILD_CONCURRENCY,
        async (slices) => {
          checkSignal();
          await compute({ BatchInput: { ...ref, snapshot: input.snapshot }, Items: slices }, context);
          batching.step(slices.length);
        },
        stoppedBySignal,
      );
      batching.end();
      // The shards, a few at a time, then complete.
      const shard = finalize.makeShardHandler(depsOf);
      const finalizing = startPhase("finalize", prepared.shards.length, "shards");
      phase = finalizing;
      await inPool(
        prepared.shards,
        FINALIZE_CONCURRENCY,
        async (next) => {
          checkSignal();
          await shard({ ...ref, shard: next }, context);
          finalizing.step();
        },
        stoppedBySignal,
      );
      checkSignal();
      await finalize.makeCompleteHandler(depsOf)(ref, context);
      finalizing.end();
      phase = undefined;
      done = (await env.store.getRun(ref.incidentId, ref.runId)) as RunRecord;
    } catch (e) {
      phase?.stop();
      await along?.stop(); // before any other pass over the stream
      // DynamoDB Local gone: nothing can be recorded. The run stays as it is, its lock this request's: resumable.
      const died = diedError();
      if (died) throw died;
      // A full disk under the state folder: recording the failure, or appending events, would only meet it again.
      // The run stays as it is, its lock this request's: resumable once space is freed.
      const full = diskFullError(e, options.state, resumeAfterFreeing(options, requestId));
      if (full) throw full;
      // What was stored before the signal or the failure is real: its events go out. If they cannot now, they stay
      // in the stream for the next run; the news is the signal or the failure, not that.
      const publishWhatWasStored = async () => {
        if (!writes) return; // a dry run stored no line
        await env.publishPending().catch((p: unknown) => {
          const why = (diskFullError(p, options.state, "run again") ?? (p as Error)).message;
          process.stderr.write(`hiwari: the events of what the run stored wait in the stream (${why})\n`);
        });
      };
      // Interrupted only when the signal is what stopped it: a failure (met before, or while the tasks in flight
      // finished after a signal) is recorded as the failure it is, and said.
      const stopped = e instanceof InterruptedError ? e : undefined;
      if (stopped) {
        await interruptStep(ref, stopped.message, { store: env.store });
        await publishWhatWasStored();
        throw stopped;
      }
      // As the state machine's Catch: the failure on the run; in process nothing is still writing (no drain).
      if (!(e instanceof LockLostError)) {
        const error = e instanceof Error ? e : new Error(String(e));
        const cause = JSON.stringify({ errorType: error.name, errorMessage: error.message });
        await finalize.makeFailHandler(depsOf, 0)({ ...ref, error: { Error: error.name, Cause: cause } }, context);
      }
      await publishWhatWasStored();
      throw e;
    }
    const published = writes ? await publish(env, { along }) : { handled: 0, failed: 0 };
    report(
      done,
      options,
      env.eventsFile,
      published.handled,
      done.dryRun
        ? `dry run: nothing written; the changes it would make are in ${join(runDir, DRY_RUN_FOLDER)}`
        : undefined,
    );
    if (published.failed > 0) {
      process.stderr.write(
        `hiwari: ${published.failed} stream records could not be published; they stay in the stream for the next run\n`,
      );
      return EXIT.failure;
    }
    return (done.counts?.rejected ?? 0) > 0 ? EXIT.rejected : EXIT.ok;
  } catch (e) {
    // The failure handler, an interrupted run's record, or the final events' append may meet a full disk too.
    throw diedError() ?? diskFullError(e, options.state, resumeAfterFreeing(options, requestId)) ?? e;
  } finally {
    await along?.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (!held) await env.stop();
  }
}

/**
 * Why a run is recorded: `--reason` when given. Without it, an incident's first run is the "initial run", and a
 * resumed request keeps the reason its run was recorded with; a run of an incident that has runs must say why
 * (a usage error), found before anything is written.
 */
async function reasonOf(given: string | undefined, env: LocalEnvironment, ref: RunRef): Promise<string> {
  if (given !== undefined) return given;
  const runs = await env.store.listRuns(ref.incidentId);
  const own = runs.find((r) => r.runId === ref.runId);
  if (own) return own.reason;
  if (runs.length === 0) return INITIAL_REASON;
  throw new UsageError(
    `--reason: incident ${ref.incidentId} was run before (${n(runs.length)} ${runs.length === 1 ? "run" : "runs"}; ` +
      `hiwari runs --incident-id ${ref.incidentId} lists them): say why this one, e.g. --reason "window ended 14:00"`,
  );
}

/**
 * Publishes what the stream holds (the run's changes, or an earlier run's), shown as a phase named `name`, ending
 * with the line `said` makes of the count (false: none): after `along` has stopped (its pass under way is part of
 * the phase), what is left, and its count is theirs together.
 */
async function publish(
  env: LocalEnvironment,
  {
    name = "publishing events",
    said = (handled) => `published ${n(handled)} events`,
    along,
  }: { name?: string; said?: (handled: number) => string | false; along?: PublishingAlong | undefined } = {},
): Promise<{ handled: number; failed: number }> {
  const publishing = startPhase(name);
  try {
    const before = (await along?.stop()) ?? 0;
    const published = await env.publishPending();
    const handled = before + published.handled;
    const line = said(handled);
    publishing.end(line !== false && before > 0 ? `${line} (${n(before)} of them while the run wrote)` : line);
    return { handled, failed: published.failed };
  } catch (e) {
    publishing.stop();
    throw e;
  }
}

/** A long phase of a run, as {@link startPhase} shows it. */
export interface Phase {
  /** `count` more of the phase's units done. */
  step(count?: number): void;
  /** Done: its line, with the time it took (`words`, else `<name> <done> of <total> done`); false: no line. */
  end(words?: string | false): void;
  /** Stopped by an error: the terminal's line ended, so that the error starts a line of its own. */
  stop(): void;
}

/**
 * A long phase of `hiwari run` on stderr. On a terminal, a line redrawn in place (\r) as it goes and every second,
 * with what is done and the time so far, ending with its time; when stderr is not a terminal (a log, a pipe, CI),
 * one line once it is done, with its time: `hiwari run: batches 12 of 12 done in 8.1 s`.
 */
export function startPhase(name: string, total?: number, unit = "", out: NodeJS.WriteStream = process.stderr): Phase {
  const started = performance.now();
  const tty = out.isTTY === true;
  let done = 0;
  const seconds = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const so = () => (total === undefined ? name : `${name} ${n(done)} of ${n(total)}${unit ? ` ${unit}` : ""}`);
  const draw = () => out.write(`\r\x1b[Khiwari run: ${so()}… ${seconds()}`);
  const timer = tty ? setInterval(draw, 1000) : undefined;
  timer?.unref();
  if (tty) draw();
  let over = false;
  const finish = (line: string) => {
    if (over) return;
    over = true;
    clearInterval(timer);
    if (tty) out.write(`\r\x1b[K${line}`);
    else if (line !== "") out.write(line);
  };
  return {
    step: (count = 1) => {
      done += count;
      if (tty && !over) draw();
    },
    end: (words = `${so()} done`) => finish(words === false ? "" : `hiwari run: ${words} in ${seconds()}\n`),
    stop: () => finish(tty ? `hiwari run: ${so()}… stopped after ${seconds()}\n` : ""),
  };
}

/** What to do once space is freed on a full disk: the same request again. */
const resumeAfterFreeing = (options: RunOptions, requestId: string) =>
  `run the same request again (it takes up where it stopped): ${resumeCommand(options, requestId)}`;

/**
 * Reads the snapshot's header (its first record) and checks it as prepare will, with the columns the incident's
 * `where`s name: an unusable one is a usage error (exit 2), found before DynamoDB Local starts.
 */
export async function checkSnapshotHeader(path: string, incident: Incident): Promise<void> {
  for await (const records of new FileRecordSource(path).records()) {
    const [first] = records;
    if (!first) continue;
    try {
      snapshotHeader(path, first, incident);
    } catch (e) {
      if (e instanceof UnusableSnapshotError) throw new UsageError(e.message, { cause: e });
      throw e;
    }
    return;
  }
  throw new UsageError(emptySnapshot(path).message);
}

/** The command that runs the same request again (a resumed run takes up where it stopped). */
export function resumeCommand(options: RunOptions, requestId: string): string {
  const quote = (v: string) => (/^[\w./:=@%+-]+$/.test(v) ? v : `'${v.replaceAll("'", "'\\''")}'`);
  const args = ["hiwari", "run", "--incident", options.incident, "--subscriptions", options.subscriptions];
  args.push("--state", options.state);
  // Without --reason, the resumed request keeps the reason its run was recorded with.
  if (options.reason) args.push("--reason", options.reason);
  args.push("--by", options.by);
  args.push("--batch-size", options.batchSize ?? String(LOCAL_BATCH_SIZE), "--request-id", requestId);
  if (options.dryRun) args.push("--dry-run");
  return args.map(quote).join(" ");
}

function report(run: RunRecord, options: RunOptions, eventsFile: string, published: number, note?: string): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ run, eventsPublished: published, eventsFile, note }, null, 2)}\n`);
    return;
  }
  const c = run.counts;
  const lines = [
    `run ${run.runId} of incident ${run.incidentId}${run.dryRun ? " (dry run)" : ""}: ${run.status}`,
    `  by ${run.requestedBy}: ${run.reason}`,
  ];
  if (c) {
    lines.push(`  ${accountingRow(c)}`);
    lines.push(
      `  lines: new ${n(c.calculated)}, adjusted ${n(c.adjusted)}, voided ${n(c.voided)}, unchanged ${n(c.unchanged)}`,
    );
  }
  lines.push("  owed now, per service and currency:");
  for (const t of run.totals ?? []) lines.push(`    ${totalRow(t)}`);
  if ((c?.rejected ?? 0) > 0)
    lines.push(
      `  rejected rows: ${n(c?.rejected ?? 0)}, in ${join(runFolder(options.state, run.runId), REJECTS_FILE)}`,
    );
  // A dry run stores no change, so it has no event: only an earlier run's, had they waited in the stream.
  if (!run.dryRun) lines.push(`  events published now: ${n(published)}, appended to ${eventsFile}`);
  else if (published === 0) lines.push("  events: none, a dry run publishes nothing");
  else
    lines.push(
      `  events: none of its own (a dry run publishes nothing); ${n(published)} of earlier runs, appended to ${eventsFile}`,
    );
  if (note) lines.push(`  ${note}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
