import { MetricUnit } from "@aws-lambda-powertools/metrics";
import * as z from "zod";
import { type ProposalStore, settleProposalRun } from "../../shared/pipeline/proposal";
import {
  completeStep,
  failStep,
  finalizeShardStep,
  recordBatchFailure,
  type ShardResult,
} from "../../shared/pipeline/run-steps";
import { sliceOfItem } from "../../shared/pipeline/survey-snapshot";
import type { RunRecord } from "../../shared/store/refund-store";
import { BUILD } from "../commons/build";
import { withPowertools } from "../commons/powertools/middleware";
import { logger, metrics } from "../commons/powertools/powertools";
import { type RunDeps, runDepsFromEnvironment } from "../commons/runtime";

const RunRefSchema = z.object({ incidentId: z.string().min(1), runId: z.string().min(1) });
const ShardEventSchema = RunRefSchema.extend({ shard: z.number().int() });
const CatchErrorSchema = z.object({ Error: z.string().optional(), Cause: z.string().optional() });
/** A Catch's error output: `Cause` is the Lambda's error as JSON, or plain text for the service's own errors. */
const FailEventSchema = RunRefSchema.extend({ error: CatchErrorSchema.optional() });
/** A Map child's Catch: the child's manifest rows (its batches) and its error. */
const BatchFailureSchema = RunRefSchema.extend({
  items: z.array(z.record(z.string(), z.unknown())).min(1),
  error: CatchErrorSchema,
});
/**
 * An execution that ended without its Catch (timed out, stopped): Step Functions' "Execution Status Change" event,
 * whose `detail.input` is the execution's input as JSON text.
 */
const StatusChangeSchema = z.object({
  "detail-type": z.literal("Step Functions Execution Status Change"),
  detail: z.object({ status: z.string(), input: z.string(), cause: z.string().nullish(), error: z.string().nullish() }),
});

/**
 * The run and the error, from either shape fail-run is invoked with; undefined for the status change of an
 * execution that is not a run (a Map child's, whose input is its batch): there is nothing to record, and throwing
 * would have EventBridge retry it for a day.
 */
function failureOf(event: unknown):
  | {
      ref: { incidentId: string; runId: string };
      error: z.infer<typeof CatchErrorSchema>;
    }
  | undefined {
  const change = StatusChangeSchema.safeParse(event);
  if (change.success) {
    let input: unknown;
    try {
      input = JSON.parse(change.data.detail.input);
    } catch {
      return undefined;
    }
    const parsed = RunRefSchema.safeParse(input);
    if (!parsed.success) return undefined;
    const ref = { incidentId: parsed.data.incidentId, runId: parsed.data.runId };
    const status = change.data.detail.status;
    return {
      ref,
      error: {
        Error: `execution ${status}`,
        Cause: [change.data.detail.error, change.data.detail.cause].filter(Boolean).join(": "),
      },
    };
  }
  const { error, ...ref } = FailEventSchema.parse(event);
  return { ref: { incidentId: ref.incidentId, runId: ref.runId }, error: error ?? {} };
}

/**
 * finalize-run, per shard (the inline Map): voids, goodwill, and the shard's totals, which it leaves in the run's
 * files for complete. Returns only the shard's counts: the Map's output stays small whatever the totals.
 */
export function makeShardHandler(deps: () => RunDeps = runDepsFromEnvironment) {
  return withPowertools(async (event: unknown): Promise<Pick<ShardResult, "shard" | "counts">> => {
    const ref = ShardEventSchema.parse(event);
    const { store, filesOf } = deps();
    const result = await finalizeShardStep(ref, ref.shard, { store, files: filesOf(ref), build: BUILD });
    metrics.addMetric("ShardsFinalized", MetricUnit.Count, 1);
    metrics.addMetric("LinesVoided", MetricUnit.Count, result.counts.voided);
    logger.info("shard finalized", { runId: ref.runId, shard: ref.shard, counts: result.counts });
    return { shard: result.shard, counts: result.counts };
  });
}

/**
 * The proposal an ended run applied (`proposalId`: an approval through the finance API), settled: applied, or
 * failed. A completed run that did not reproduce its preview is loud (ProposalsNotReproduced, an error log with
 * the differences), yet stays completed: its changes are stored and their events on their way.
 */
async function settleProposal(proposals: ProposalStore | undefined, run: RunRecord | undefined): Promise<void> {
  if (!proposals || run?.proposalId === undefined) return;
  const settled = await settleProposalRun(proposals, run);
  if (!settled) return;
  const { proposal, differences } = settled;
  const about = { incidentId: run.incidentId, runId: run.runId, proposalId: proposal.proposalId };
  if (proposal.state === "applied") {
    metrics.addMetric("ProposalsApplied", MetricUnit.Count, 1);
    logger.info("proposal applied: the run reproduced its preview", about);
  } else if (run.status === "completed") {
    metrics.addMetric("ProposalsNotReproduced", MetricUnit.Count, 1);
    logger.error("proposal not reproduced: the run's changes stand, review them and correct with a new proposal", {
      ...about,
      differences,
    });
  } else {
    metrics.addMetric("ProposalsFailed", MetricUnit.Count, 1);
    logger.error("proposal failed: its run failed", about);
  }
}

/**
 * complete-run: the run's counts and totals, its record, `Refund Run Completed`, the lock released; then the
 * proposal the run applied, if any, settled.
 */
export function makeCompleteHandler(deps: () => RunDeps = runDepsFromEnvironment) {
  return withPowertools(async (event: unknown) => {
    const ref = RunRefSchema.parse(event);
    const { store, filesOf, proposals } = deps();
    const done = await completeStep(ref, { store, files: filesOf(ref) });
    metrics.addMetric("RunsCompleted", MetricUnit.Count, 1);
    logger.info("run completed", { runId: done.runId, counts: done.counts });
    await settleProposal(proposals, done);
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

/**
 * How long a failed run keeps the incident's lock: an invocation still in flight when the run failed (a Map child's
 * batch, at most 2 minutes; a shard's finalize, at most 15) may still write until its time limit; the next run may
 * start after the longest of them, with a minute to spare. An infra test holds this above every run function's
 * timeout.
 */
export const DRAIN_MS = 16 * 60 * 1000;

/**
 * fail-run: a run's failure on its record, the lock given up after the drain, so a corrected rerun can start; the
 * proposal the run applied, if any, settled (failed, or as complete would, when the run completed after all).
 * Invoked by the state machine's Catch, and by a rule on executions that ended without it (timed out, stopped).
 * A Map child's Catch invokes it too, with the child's batches: the child's own error is then recorded on the run
 * (the run itself fails when the Map does, and its error names the child's).
 */
export function makeFailHandler(deps: () => RunDeps = runDepsFromEnvironment, drainMs = DRAIN_MS) {
  return withPowertools(async (event: unknown) => {
    const batch = BatchFailureSchema.safeParse(event);
    if (batch.success) {
      const { items, error, ...ref } = batch.data;
      const batches = items.map((item) => sliceOfItem(item).batchNo);
      await recordBatchFailure(ref, batches, messageOf(error), deps());
      metrics.addMetric("BatchesFailed", MetricUnit.Count, batches.length);
      logger.error("batch failed", { runId: ref.runId, batches, error: error.Error ?? "unknown" });
      return { incidentId: ref.incidentId, runId: ref.runId, batches };
    }
    const failure = failureOf(event);
    if (!failure) {
      logger.warn("status change of an execution that is not a run: nothing to record");
      return { ignored: true };
    }
    const { ref, error } = failure;
    const message = messageOf(error);
    const { store, proposals } = deps();
    await failStep(ref, message, { store }, drainMs);
    if (proposals) await settleProposal(proposals, await store.getRun(ref.incidentId, ref.runId));
    metrics.addMetric("RunsFailed", MetricUnit.Count, 1);
    // The message may name a line (a subscriber): it is on the run record; the log has the error's kind only.
    logger.error("run failed", { runId: ref.runId, error: error.Error ?? "unknown" });
    return { incidentId: ref.incidentId, runId: ref.runId, status: "failed" };
  });
}

export const shardHandler = makeShardHandler();
export const completeHandler = makeCompleteHandler();
export const failHandler = makeFailHandler();
