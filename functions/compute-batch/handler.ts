import { MetricUnit } from "@aws-lambda-powertools/metrics";
import * as z from "zod";
import { S3LocationSchema } from "../../shared/api/run-request";
import { computeStep, type LoadedPlan, loadPlan } from "../../shared/pipeline/run-steps";
import { sliceOfItem } from "../../shared/pipeline/survey-snapshot";
import { BUILD } from "../commons/build";
import { withPowertools } from "../commons/powertools/middleware";
import { logger, metrics } from "../commons/powertools/powertools";
import { type RunDeps, runDepsFromEnvironment } from "../commons/runtime";

/** What the Distributed Map hands a child: the run (BatchInput) and a few manifest rows (Items, values strings). */
const MapBatchSchema = z.object({
  BatchInput: z.object({ incidentId: z.string().min(1), runId: z.string().min(1), snapshot: S3LocationSchema }),
  Items: z.array(z.record(z.string(), z.unknown())).min(1),
});

/** A warm container serves many batches of one run: the plan is read once per run. */
let cached: { runId: string; plan: LoadedPlan } | undefined;

/**
 * compute-batch, the Map's child: each slice of the snapshot (a ranged read) → the engine → reconcile with the
 * stored lines → conditional writes, and the batch's record for finalize.
 */
export function makeHandler(deps: () => RunDeps = runDepsFromEnvironment) {
  return withPowertools(async (event: unknown) => {
    const { BatchInput: ref, Items } = MapBatchSchema.parse(event);
    const { store, snapshotOf, filesOf } = deps();
    const files = filesOf(ref);
    if (cached?.runId !== ref.runId) cached = { runId: ref.runId, plan: await loadPlan(ref, files, BUILD) };
    const slices = Items.map(sliceOfItem);
    const step = { store, snapshot: snapshotOf(ref.snapshot), files, build: BUILD };
    const out = await computeStep(ref, slices, step, cached.plan);
    metrics.addMetric("RowsRead", MetricUnit.Count, out.counts.rows);
    metrics.addMetric("RowsRejected", MetricUnit.Count, out.counts.rejected);
    logger.info("batches computed", { runId: ref.runId, batches: slices.map((s) => s.batchNo), rows: out.counts.rows });
    return { batches: out.batches, rows: out.counts.rows, rejected: out.counts.rejected };
  });
}

export const handler = makeHandler();
