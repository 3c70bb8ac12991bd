import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { ExecutionInputSchema } from "../../shared/api/run-request";
import { INCIDENT_FILE, prepareStep, readRunIncident } from "../../shared/pipeline/run-steps";
import { BUILD } from "../commons/build";
import { withPowertools } from "../commons/powertools/middleware";
import { logger, metrics } from "../commons/powertools/powertools";
import { type RunDeps, runDepsFromEnvironment } from "../commons/runtime";

/**
 * prepare-run, the state machine's first step: the incident from the run's files (checked against the digest in the
 * input), one pass over the snapshot, the run's lock and record, and the manifest of slices the Distributed Map reads. Returns the manifest's S3 location for the Map's item reader.
 */
export function makeHandler(deps: () => RunDeps = runDepsFromEnvironment) {
  return withPowertools(async (event: unknown) => {
    const input = ExecutionInputSchema.parse(event);
    const { store, snapshotOf, filesOf } = deps();
    const files = filesOf(input);
    const own = files.location(INCIDENT_FILE);
    if (input.incident.bucket !== own.bucket || input.incident.key !== own.key)
      throw new Error(`the incident must be the run's own ${INCIDENT_FILE}, not ${input.incident.key}`);
    const prepared = await prepareStep(
      {
        incidentDocument: await readRunIncident(files, input.incident.sha256),
        incidentDigest: input.incidentDigest,
        requestId: input.requestId,
        requestedBy: input.requestedBy,
        reason: input.reason,
        dryRun: input.dryRun,
        batchSize: input.batchSize,
      },
      { store, snapshot: snapshotOf(input.snapshot), files, build: BUILD },
    );
    if (prepared.runId !== input.runId)
      throw new Error(`run id ${prepared.runId} is not the execution's ${input.runId}`);
    metrics.addMetric("RunsPrepared", MetricUnit.Count, 1);
    logger.info("run prepared", { runId: prepared.runId, status: prepared.status });
    if (prepared.status !== "ready") return prepared;
    metrics.addMetric("SlicesPrepared", MetricUnit.Count, prepared.slices);
    return { ...prepared, manifest: files.location(prepared.manifest) };
  });
}

export const handler = makeHandler();
