/**
 * The run's functions as sized for a national run (docs/scale.md): memory and time limit of each, and the Maps'
 * concurrency. Plain numbers, no CDK import: the constructs build on them, and `npm run bench:scale` measures each
 * step against them without loading (and bundling) the stack.
 */
export const RUN_FUNCTION_SIZES = {
  prepare: { memoryMB: 4096, timeoutSeconds: 15 * 60 },
  // A batch of at most 2,000 rows takes seconds; 2 minutes leaves room for throttling inside one attempt (the Map's
  // STANDARD children retry an attempt that timed out). fail-run's drain (DRAIN_MS) outlasts every limit here.
  batch: { memoryMB: 1024, timeoutSeconds: 2 * 60 },
  finalize: { memoryMB: 2048, timeoutSeconds: 15 * 60 },
  complete: { memoryMB: 1024, timeoutSeconds: 5 * 60 },
  fail: { memoryMB: 256, timeoutSeconds: 5 * 60 },
} as const;

/** Map children at once (the Distributed Map's default `MaxConcurrency`; see docs/scale.md for the figure). */
export const MAP_CONCURRENCY = 8;
/** Shards finalized at once (the inline Map's `MaxConcurrency`). */
export const FINALIZE_CONCURRENCY = 16;
