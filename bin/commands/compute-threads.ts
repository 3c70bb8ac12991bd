import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type {
  ByteRange,
  IdsFound,
  IdsJob,
  RangeOutput,
  RangeResult,
  RangeRunner,
  RangeSetup,
} from "../../shared/engine/fast/fast-engine";
import type { Incident } from "../../shared/input/incident";
import { type PostedError, rebuiltError } from "./posted-error";

/** What the main thread asks a worker: a part of the first pass, or one range (the setup with the first only). */
export type WorkerTask =
  | { ids: IdsJob }
  | { range: ByteRange; setup?: RangeSetup; incident?: Incident }
  | { recycle: ArrayBuffer };

/** What a worker answers: a first pass's part; buffers of lines as it goes, then the range's result; or an error. */
export type WorkerReply =
  | { ids: IdsFound }
  | { output: RangeOutput }
  | { result: RangeResult }
  | { error: PostedError };

/**
 * Snapshots smaller than this are computed on one thread: the workers' start and warm-up (about 0.7 s of CPU for two)
 * cost more than they save there on a machine of 2 cores that has other work (at 1M rows, 64 MB, two workers took
 * 1.34–1.41 s against one thread's 1.38–1.60 s at a load average of 3, but 2.4–6.3 s against 1.8–4.0 s at 4.6); at
 * 10M rows they took 12.3 s against 17.6 s.
 */
export const MIN_THREADED_BYTES = 128 << 20;
/** About how many bytes of the snapshot one range holds (a few dozen MB of lines held at most, per range). */
export const RANGE_BYTES = 4 << 20;

/**
 * How many worker threads `hiwari compute` uses for a snapshot of `size` bytes: none below MIN_THREADED_BYTES,
 * else one per core, up to 8 (HIWARI_THREADS overrides). A count of 0 or 1 is one thread, the engine alone: no
 * worker (one worker would only add its start to the same work).
 */
export function workerCount(size: number, env = process.env, cores = availableParallelism()): number {
  const asked = env.HIWARI_THREADS === undefined ? undefined : Number(env.HIWARI_THREADS);
  const count =
    asked !== undefined && Number.isSafeInteger(asked) && asked >= 0
      ? asked
      : size < MIN_THREADED_BYTES
        ? 0
        : Math.min(cores, 8);
  return count <= 1 ? 0 : count;
}

/**
 * The worker's module: beside the bundle's entry in dist/ (see scripts/build.mjs), this module being in one of its
 * chunks; or, run from the sources through tsx (whose `--import` the worker inherits), the source file beside it.
 */
const WORKER_URL = import.meta.url.endsWith(".ts")
  ? new URL("./compute-worker.ts", import.meta.url)
  : new URL("../compute-worker.cjs", import.meta.url);

/** Bytes per range: RANGE_BYTES, or HIWARI_RANGE_BYTES (tests cut small snapshots into many ranges). */
export function rangeBytes(env = process.env): number {
  const asked = Number(env.HIWARI_RANGE_BYTES);
  return Number.isSafeInteger(asked) && asked > 0 ? asked : RANGE_BYTES;
}

/**
 * `count` worker threads for the file at `path`, started now, before the incident is read (they load their modules
 * meanwhile); `runners(incident)` hands them work, the incident going with each worker's first range; `close` ends
 * them; `ranges` counts the ranges handed to them (HIWARI_DEBUG_THREADS shows it: the tests check that the
 * threaded path ran). A worker that fails or exits fails the task it had; so does an `output` callback that throws
 * (the worker is then not asked again: the rest of that task's messages go nowhere).
 */
export function startWorkers(
  count: number,
  path: string,
  format: "jsonl" | "csv",
  url: URL = WORKER_URL,
): { count: number; runners(incident: Incident): RangeRunner[]; ranges(): number; close(): Promise<void> } {
  const workerData = { path, format };
  const workers = Array.from({ length: count }, () =>
    url.pathname.endsWith(".ts")
      ? // From the sources (tests run the command through tsx, whose hooks a worker does not inherit): tsx first.
        new Worker(
          `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`,
          { eval: true, workerData },
        )
      : new Worker(url, { workerData }),
  );
  // A worker that fails with no task in hand (it could not load): noted, and its next task fails at once.
  const failures = workers.map((worker) => {
    const failure: { error?: Error } = {};
    worker.on("error", (e) => {
      failure.error = e;
    });
    worker.once("exit", (code) => {
      failure.error ??= new Error(`a worker of hiwari compute stopped (exit code ${code})`);
    });
    return failure;
  });
  let ranges = 0;
  const runners = (incident: Incident) =>
    workers.map((worker, k): RangeRunner => {
      let setupSent = false;
      /** Sends one task and resolves with its answer (`output`s, if any, handed on as they come). */
      const ask = <T>(
        task: WorkerTask,
        answer: (reply: WorkerReply) => T | undefined,
        output?: (o: RangeOutput) => void,
      ) =>
        new Promise<T>((resolve, reject) => {
          const failed = (failures[k] as { error?: Error }).error;
          if (failed) return reject(failed);
          const onMessage = (reply: WorkerReply) => {
            if ("output" in reply) {
              // Once written, the buffer goes back to the worker to be filled again.
              const { buffer } = reply.output.bytes;
              try {
                output?.({
                  ...reply.output,
                  done: () => worker.postMessage({ recycle: buffer }, [buffer as ArrayBuffer]),
                });
              } catch (e) {
                // A write that failed (a full disk): this task fails with it. Thrown here, in a listener, it would
                // end the process with a stack trace, past the command's clean-up.
                done();
                (failures[k] as { error?: Error }).error ??= e as Error;
                reject(e);
              }
              return;
            }
            done();
            const value = answer(reply);
            if (value !== undefined) resolve(value);
            else if ("error" in reply) reject(rebuiltError(reply.error));
            else reject(new Error("a worker of hiwari compute failed: no answer"));
          };
          const onError = (e: Error) => {
            done();
            reject(e);
          };
          const onExit = (code: number) => {
            done();
            reject(new Error(`a worker of hiwari compute stopped (exit code ${code})`));
          };
          const done = () => {
            worker.off("message", onMessage);
            worker.off("error", onError);
            worker.off("exit", onExit);
          };
          worker.on("message", onMessage);
          worker.on("error", onError);
          worker.on("exit", onExit);
          worker.postMessage(task);
        });
      return {
        ids: (job) => ask({ ids: job }, (reply) => ("ids" in reply ? reply.ids : undefined)),
        run: (setup, range, output) => {
          const task = setupSent ? { range } : { range, setup, incident };
          setupSent = true;
          ranges++;
          return ask(task, (reply) => ("result" in reply ? reply.result : undefined), output);
        },
      };
    });
  return {
    count,
    runners,
    ranges: () => ranges,
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
