/** The steps of a run, in the state machine's order. */
export const STEPS = ["prepare", "compute", "finalize", "complete"] as const;
export type StepName = (typeof STEPS)[number];

/**
 * Each step's function, its configured memory (MB) and time limit (s): the figures of
 * infra/constructs/run-pipeline.ts (`memorySize` of PrepareRun, ComputeBatch, FinalizeRun, CompleteRun) and
 * `FUNCTION_TIMEOUTS` in infra/constructs/hiwari-function.ts. Kept here rather than read from the construct, which
 * builds (and bundles) the functions when it is instantiated; change both together.
 */
export const FUNCTIONS: Record<StepName, { name: string; memoryMB: number; timeoutSeconds: number }> = {
  prepare: { name: "prepare-run", memoryMB: 4096, timeoutSeconds: 15 * 60 },
  compute: { name: "compute-batch", memoryMB: 1024, timeoutSeconds: 2 * 60 },
  finalize: { name: "finalize-run", memoryMB: 2048, timeoutSeconds: 15 * 60 },
  complete: { name: "complete-run", memoryMB: 1024, timeoutSeconds: 5 * 60 },
};

/** Step Functions: a state's input or output, a Map's result, an ItemBatcher batch: 256 KiB. */
export const MAX_STATE_PAYLOAD_BYTES = 256 * 1024;
/** S3: one PUT (a multipart upload goes to 5 TB, but the run files are single PUTs). */
export const MAX_PUT_OBJECT_BYTES = 5 * 1024 ** 3;
/** The inline Map's concurrency over the 64 shards (run-pipeline.ts `FinalizeShards.maxConcurrency`). */
export const FINALIZE_CONCURRENCY = 16;
/** The Distributed Map's default concurrency (run-pipeline.ts `mapConcurrency ?? 8`). */
export const MAP_CONCURRENCY = 8;
