import { z } from "zod";
import { completeStep, failStep, finalizeShardStep, type ShardResult } from "../../shared/pipeline/run-steps";
import { withPowertools } from "../commons/powertools/middleware";
import { logger } from "../commons/powertools/powertools";
import { type RunDeps, runDepsFromEnvironment } from "../commons/runtime";
import { runPrefix, S3RunFiles } from "../commons/s3/s3-run-files";

const RunRefSchema = z.object({ incidentId: z.string().min(1), runId: z.string().min(1) });
const ShardEventSchema = RunRefSchema.extend({ shard: z.number().int() });
const TotalSchema = z.object({
  serviceCode: z.string().nullable(),
  currency: z.string(),
  lines: z.number().int(),
  amount: z.string().regex(/^-?\d+$/),
});
const CountsSchema = z.object({
  rows: z.number().int(),
  computed: z.number().int(),
  skipped: z.number().int(),
  rejected: z.number().int(),
  calculated: z.number().int(),
  adjusted: z.number().int(),
  voided: z.number().int(),
  unchanged: z.number().int(),
});
const CompleteEventSchema = RunRefSchema.extend({
  shards: z.array(z.object({ shard: z.number().int(), counts: CountsSchema, totals: z.array(TotalSchema) })),
});
/** A Catch's error output: `Cause` is the Lambda's error as JSON, or plain text for the service's own errors. */
const FailEventSchema = RunRefSchema.extend({
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

/** finalize-run, per shard (the inline Map): voids, goodwill, and the shard's totals. */
export function makeShardHandler(deps: () => RunDeps = runDepsFromEnvironment) {
  return withPowertools(async (event: unknown): Promise<ShardResult> => {
    const ref = ShardEventSchema.parse(event);
    const { store, s3, workBucket } = deps();
    const result = await finalizeShardStep(ref, ref.shard, {
      store,
      files: new S3RunFiles(s3, workBucket, runPrefix(ref)),
    });
    logger.info("shard finalized", { runId: ref.runId, shard: ref.shard, counts: result.counts });
    return result;
  });
}

/** complete-run: the run's counts and totals, its record, `Refund Run Completed`, the lock released. */
export function makeCompleteHandler(deps: () => RunDeps = runDepsFromEnvironment) {
  return withPowertools(async (event: unknown) => {
    const ref = CompleteEventSchema.parse(event);
    const { store, s3, workBucket } = deps();
    const done = await completeStep(ref, ref.shards, { store, files: new S3RunFiles(s3, workBucket, runPrefix(ref)) });
    logger.info("run completed", { runId: done.runId, counts: done.counts });
    return {
      incidentId: done.incidentId,
      runId: done.runId,
      status: done.status,
      counts: done.counts,
      totals: done.totals,
    };
  });
}

/** The message of a Catch's error: the Lambda's `errorMessage` when Cause is its JSON, else Cause itself. */
export function messageOf(error: { Error?: string; Cause?: string } | undefined): string {
  if (!error) return "the run failed";
  let message = error.Cause ?? "";
  try {
    const cause = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof cause.errorMessage === "string") message = cause.errorMessage;
  } catch {
    // a plain-text cause (States.* errors)
  }
  return [error.Error, message].filter(Boolean).join(": ");
}

/** fail-run: any step's failure on the run record, the lock released, so a corrected rerun can start. */
export function makeFailHandler(deps: () => RunDeps = runDepsFromEnvironment) {
  return withPowertools(async (event: unknown) => {
    const ref = FailEventSchema.parse(event);
    const message = messageOf(ref.error);
    await failStep(ref, message, deps());
    logger.error("run failed", { runId: ref.runId, error: message });
    return { incidentId: ref.incidentId, runId: ref.runId, status: "failed", error: message };
  });
}

export const shardHandler = makeShardHandler();
export const completeHandler = makeCompleteHandler();
export const failHandler = makeFailHandler();
