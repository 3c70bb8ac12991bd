import {
  FINALIZE_CONCURRENCY,
  MAP_CONCURRENCY,
  RUN_FUNCTION_SIZES,
} from "../../../infra/constructs/run-function-sizes";

/** The steps of a run, in the state machine's order. */
export const STEPS = ["prepare", "compute", "finalize", "complete"] as const;
export type StepName = (typeof STEPS)[number];

/** Each step's function, its configured memory (MB) and time limit (s), as the stack sizes it. */
export const FUNCTIONS: Record<StepName, { name: string; memoryMB: number; timeoutSeconds: number }> = {
  prepare: { name: "prepare-run", ...RUN_FUNCTION_SIZES.prepare },
  compute: { name: "compute-batch", ...RUN_FUNCTION_SIZES.batch },
  finalize: { name: "finalize-run", ...RUN_FUNCTION_SIZES.finalize },
  complete: { name: "complete-run", ...RUN_FUNCTION_SIZES.complete },
};

/** Step Functions: a state's input or output, a Map's result, an ItemBatcher batch: 256 KiB. */
export const MAX_STATE_PAYLOAD_BYTES = 256 * 1024;
/** S3: one PUT (a multipart upload goes to 5 TB, but the run files are single PUTs). */
export const MAX_PUT_OBJECT_BYTES = 5 * 1024 ** 3;
export { FINALIZE_CONCURRENCY, MAP_CONCURRENCY };
