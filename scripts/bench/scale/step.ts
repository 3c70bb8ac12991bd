/**
 * One step process of `npm run bench:scale`: invokes one function's Lambda handler (as the state machine would)
 * with each event of a JSON-lines file, in order, against the counting store and measured run files under the
 * bench's folder, then writes what it measured (`StepResult`) as JSON. The orchestrator (scripts/bench/scale.ts)
 * bundles this file as the functions are bundled and runs it with node, one process per step or share of a step,
 * so each process's peak RSS is its own work's.
 *
 *   node step.mjs --step compute --name compute-2 --work DIR --events FILE --out FILE
 */
import { createReadStream, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { Context } from "aws-lambda";
import { FileSnapshot } from "../../../bin/io/local-run-files";
import type { RunDeps } from "../../../functions/commons/runtime";
import { CountingStore } from "./counting-store";
import { FUNCTIONS, STEPS, type StepName } from "./limits";
import { emptyObjectTally, MeasuredRunFiles } from "./measured-run-files";
import type { StepResult } from "./step-result";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** The step's handler, built on `deps` (imported here, so a process loads only its own function's code). */
async function handlerOf(step: StepName, deps: () => RunDeps): Promise<Handler> {
  switch (step) {
    case "prepare":
      return (await import("../../../functions/prepare-run/handler")).makeHandler(deps) as Handler;
    case "compute":
      return (await import("../../../functions/compute-batch/handler")).makeHandler(deps) as Handler;
    case "finalize":
      return (await import("../../../functions/finalize-run/handler")).makeShardHandler(deps) as Handler;
    case "complete":
      return (await import("../../../functions/finalize-run/handler")).makeCompleteHandler(deps) as Handler;
  }
}

const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? "");

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      step: { type: "string" },
      name: { type: "string" },
      work: { type: "string" },
      events: { type: "string" },
      out: { type: "string" },
    },
  });
  const { step, name, work, events, out } = values;
  if (!step || !(STEPS as readonly string[]).includes(step) || !name || !work || !events || !out)
    throw new Error(
      "usage: step --step prepare|compute|finalize|complete --name N --work DIR --events FILE --out FILE",
    );
  const stepName = step as StepName;

  const store = new CountingStore(join(work, "store"), name);
  const files = emptyObjectTally();
  const deps: RunDeps = {
    store,
    snapshotOf: (location) => new FileSnapshot(location.key),
    filesOf: (ref) => new MeasuredRunFiles(join(work, "runs", ref.runId), files),
  };
  const handler = await handlerOf(stepName, () => deps);
  const context = {
    functionName: FUNCTIONS[stepName].name,
    awsRequestId: name,
    invokedFunctionArn: `local:${FUNCTIONS[stepName].name}`,
    memoryLimitInMB: String(FUNCTIONS[stepName].memoryMB),
    functionVersion: "$LATEST",
    getRemainingTimeInMillis: () => FUNCTIONS[stepName].timeoutSeconds * 1000,
  } as unknown as Context;

  const loadedRssKB = process.resourceUsage().maxRSS;
  const result: StepResult = {
    step: stepName,
    name,
    invocations: 0,
    maxRssKB: 0,
    loadedRssKB,
    workSeconds: 0,
    maxInvocationSeconds: 0,
    maxInputBytes: 0,
    maxOutputBytes: 0,
    totalOutputBytes: 0,
    lastOutput: undefined,
    store: store.tally,
    files,
  };
  const started = performance.now();
  // The events one at a time, as the Map hands them over: the file is never held whole.
  for await (const line of createInterface({ input: createReadStream(events) })) {
    if (line === "") continue;
    const event = JSON.parse(line) as unknown;
    result.maxInputBytes = Math.max(result.maxInputBytes, Buffer.byteLength(line));
    const t = performance.now();
    const output = await handler(event, context);
    result.maxInvocationSeconds = Math.max(result.maxInvocationSeconds, (performance.now() - t) / 1000);
    const bytes = bytesOf(output);
    result.maxOutputBytes = Math.max(result.maxOutputBytes, bytes);
    result.totalOutputBytes += bytes;
    result.lastOutput = output;
    result.invocations++;
  }
  result.workSeconds = (performance.now() - started) / 1000;
  store.close();
  result.maxRssKB = process.resourceUsage().maxRSS;
  writeFileSync(out, `${JSON.stringify(result)}\n`);
}

await main();
