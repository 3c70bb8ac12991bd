import { randomUUID } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { parse } from "csv-parse/sync";
import {
  type AslDefinition,
  type AslExecution,
  type AslState,
  dataLimitExceeded,
  evaluatePath,
  evaluateTemplate,
  type Json,
  StatesError,
} from "./asl-execution";
import { type AwsLimits, jsonBytes } from "./aws-limits";
import { ACCOUNT, PARTITION, REGION } from "./deployed-template";

/** The Resource of the Task a DISTRIBUTED Map becomes before the interpreter runs the definition. */
export const DISTRIBUTED_MAP_RESOURCE = "arn:aws:states:::harness:distributedMap";

/** A Map state's fields that stay on the Task replacing it: the interpreter applies them as to any Task. */
const KEPT_ON_TASK = [
  "Comment",
  "InputPath",
  "ResultSelector",
  "ResultPath",
  "OutputPath",
  "Retry",
  "Catch",
  "Next",
  "End",
];

const isDistributed = (state: AslState) =>
  state.Type === "Map" &&
  ((state.ItemProcessor as { ProcessorConfig?: { Mode?: string } } | undefined)?.ProcessorConfig?.Mode ?? "INLINE") ===
    "DISTRIBUTED";

/**
 * The definition with each DISTRIBUTED Map state replaced by a Task of {@link DISTRIBUTED_MAP_RESOURCE} that keeps
 * its InputPath, ResultSelector, ResultPath, OutputPath, Retry, Catch and Next/End (the interpreter applies them
 * unchanged); the Maps themselves, by state name, for {@link runDistributedMap}. Inline Maps are left to the
 * interpreter, and searched for distributed ones inside.
 */
export function rewriteDistributedMaps(definition: AslDefinition): {
  definition: AslDefinition;
  maps: Record<string, AslState>;
} {
  const maps: Record<string, AslState> = {};
  const rewrite = (d: AslDefinition): AslDefinition => {
    const states: Record<string, AslState> = {};
    for (const [name, state] of Object.entries(d.States)) {
      if (isDistributed(state)) {
        maps[name] = state;
        const task: AslState = { Type: "Task", Resource: DISTRIBUTED_MAP_RESOURCE, TimeoutSeconds: 86_400 };
        for (const key of KEPT_ON_TASK) if (key in state) task[key] = state[key];
        states[name] = task;
        continue;
      }
      const processor = (state.ItemProcessor ?? state.Iterator) as AslDefinition | undefined;
      const key = state.ItemProcessor ? "ItemProcessor" : "Iterator";
      const branches = state.Branches as AslDefinition[] | undefined;
      states[name] = {
        ...state,
        ...(processor ? { [key]: rewrite(processor) } : {}),
        ...(branches ? { Branches: branches.map(rewrite) } : {}),
      };
    }
    return { ...d, States: states };
  };
  return { definition: rewrite(definition), maps };
}

/** What the emulated Map needs of the service around it. */
export interface DistributedMapEnv {
  /** The parent execution: its state machine names the Map Run and the children. */
  stateMachineArn: string;
  stateMachineName: string;
  limits: AwsLimits;
  /** S3 as the state machine's role, for the ItemReader and the ResultWriter. */
  readerS3: S3Client;
  writerS3: S3Client;
  /** Starts one child execution of the item processor (StartExecution as the state machine's role). */
  startChild(definition: AslDefinition, input: Json, executionArn: string, name: string): AslExecution;
  /** The parent's: set when it is stopped, the Map Run then stops its children. */
  signal: AbortSignal;
}

/** A child execution as the Map Run keeps it, for its results. */
interface ChildRun {
  name: string;
  executionArn: string;
  input: Json;
  items: number;
  execution?: AslExecution;
}

async function readS3Items(state: AslState, input: Json, env: DistributedMapEnv): Promise<Json[]> {
  const reader = state.ItemReader as {
    Resource: string;
    ReaderConfig?: {
      InputType?: string;
      CSVHeaderLocation?: string;
      CSVHeaders?: string[];
      MaxItems?: number;
      MaxItemsPath?: string;
    };
    Parameters?: unknown;
  };
  if (!/^arn:aws[-a-z]*:states:::s3:getObject$/.test(reader.Resource))
    throw new Error(`the harness emulates the ItemReader s3:getObject only, not ${reader.Resource}`);
  const params = (await evaluateTemplate(reader.Parameters ?? {}, input)) as {
    Bucket: string;
    Key: string;
    VersionId?: string;
  };
  const config = reader.ReaderConfig ?? {};
  let text: string;
  try {
    const answer = await env.readerS3.send(
      new GetObjectCommand({
        Bucket: params.Bucket,
        Key: params.Key,
        ...(params.VersionId ? { VersionId: params.VersionId } : {}),
      }),
    );
    text = (await answer.Body?.transformToString("utf-8")) ?? "";
  } catch (e) {
    throw new StatesError("States.ItemReaderFailed", `s3:getObject s3://${params.Bucket}/${params.Key}: ${String(e)}`);
  }
  let items: Json[];
  if (config.InputType === "JSON") {
    items = JSON.parse(text) as Json[];
    if (!Array.isArray(items)) throw new StatesError("States.ItemReaderFailed", "the JSON object is not an array");
  } else if (config.InputType === "CSV") {
    let rows: string[][];
    try {
      rows = parse(text, { bom: true, skip_empty_lines: true }) as string[][];
    } catch (e) {
      throw new StatesError("States.ItemReaderFailed", `the CSV does not parse: ${(e as Error).message}`);
    }
    let header: string[];
    if (config.CSVHeaderLocation === "GIVEN") header = config.CSVHeaders ?? [];
    else {
      header = rows.shift() ?? [];
      const headerBytes = Buffer.byteLength(text.split(/\r?\n/, 1)[0] ?? "", "utf8");
      if (headerBytes > env.limits.csvHeaderBytes)
        throw new StatesError(
          "States.ItemReaderFailed",
          `the CSV header is ${headerBytes} bytes, over ${env.limits.csvHeaderBytes}`,
        );
    }
    items = rows.map((row, i) => {
      if (row.length !== header.length)
        throw new StatesError(
          "States.ItemReaderFailed",
          `CSV row ${i + 1} has ${row.length} fields, the header ${header.length}`,
        );
      return Object.fromEntries(header.map((h, k) => [h, row[k] as string]));
    });
  } else throw new Error(`the harness emulates ItemReader InputType CSV and JSON only, not ${config.InputType}`);
  const maxItems =
    config.MaxItems ?? (config.MaxItemsPath ? Number(await evaluatePath(config.MaxItemsPath, input)) : undefined);
  return maxItems ? items.slice(0, maxItems) : items;
}

async function numberField(state: AslState, field: string, input: Json): Promise<number | undefined> {
  if (typeof state[field] === "number") return state[field] as number;
  const path = state[`${field}Path`];
  return typeof path === "string" ? Number(await evaluatePath(path, input)) : undefined;
}

/** The children's inputs: items (after ItemSelector) cut by the ItemBatcher, each with its BatchInput. */
async function childInputs(state: AslState, input: Json, items: Json[], env: DistributedMapEnv) {
  const selector = state.ItemSelector ?? state.Parameters;
  const selected = selector
    ? await Promise.all(
        items.map((v, i) => evaluateTemplate(selector, input, { Map: { Item: { Index: i, Value: v } } })),
      )
    : items;
  const batcher = state.ItemBatcher as AslState | undefined;
  if (!batcher) return selected.map((item) => ({ input: item, items: 1 }));
  const maxItems = (await numberField(batcher, "MaxItemsPerBatch", input)) ?? Number.POSITIVE_INFINITY;
  const maxBytes = Math.min(
    (await numberField(batcher, "MaxInputBytesPerBatch", input)) ?? env.limits.payloadBytes,
    env.limits.payloadBytes,
  );
  const batchInput = batcher.BatchInput === undefined ? undefined : await evaluateTemplate(batcher.BatchInput, input);
  const make = (batch: Json[]): Json =>
    batchInput === undefined ? { Items: batch } : { BatchInput: batchInput, Items: batch };
  const out: { input: Json; items: number }[] = [];
  let batch: Json[] = [];
  for (const item of selected) {
    if (batch.length > 0 && (batch.length >= maxItems || jsonBytes(make([...batch, item])) > maxBytes)) {
      out.push({ input: make(batch), items: batch.length });
      batch = [];
    }
    batch.push(item);
  }
  if (batch.length > 0) out.push({ input: make(batch), items: batch.length });
  return out;
}

/** A child's line in the ResultWriter's files (Transformation NONE), as Step Functions writes it. */
function resultEntry(child: ChildRun, stateMachineArn: string) {
  const e = child.execution as AslExecution;
  return {
    ExecutionArn: child.executionArn,
    Input: JSON.stringify(child.input),
    InputDetails: { Included: true },
    Name: child.name,
    ...(e.status === "SUCCEEDED"
      ? { Output: JSON.stringify(e.output), OutputDetails: { Included: true } }
      : { ...(e.error ? { Error: e.error } : {}), ...(e.cause ? { Cause: e.cause } : {}) }),
    RedriveCount: 0,
    RedriveStatus: "NOT_REDRIVABLE",
    RedriveStatusReason: `Execution is ${e.status} and cannot be redriven`,
    StartDate: e.startDate.toISOString(),
    StateMachineArn: stateMachineArn,
    Status: e.status,
    StopDate: (e.stopDate ?? new Date()).toISOString(),
  };
}

/**
 * Writes the Map Run's results as the ResultWriter does: `<Prefix>/<map run id>/SUCCEEDED_0.json` and
 * `FAILED_0.json` (JSON arrays of the children, with their input and output or error), then `manifest.json`
 * listing them; returns the Map's output `{ MapRunArn, ResultWriterDetails: { Bucket, Key } }`.
 */
async function writeResults(
  writer: { Resource: string; Parameters?: unknown; WriterConfig?: { OutputType?: string } },
  input: Json,
  children: ChildRun[],
  mapRunId: string,
  mapRunArn: string,
  env: DistributedMapEnv,
): Promise<Json> {
  if (!/^arn:aws[-a-z]*:states:::s3:putObject$/.test(writer.Resource))
    throw new Error(`the harness emulates the ResultWriter s3:putObject only, not ${writer.Resource}`);
  if ((writer.WriterConfig?.OutputType ?? "JSON") !== "JSON")
    throw new Error("the harness emulates the ResultWriter's JSON output only");
  const { Bucket, Prefix } = (await evaluateTemplate(writer.Parameters ?? {}, input)) as {
    Bucket: string;
    Prefix?: string;
  };
  const keyOf = (name: string) => [(Prefix ?? "").replace(/\/+$/, ""), mapRunId, name].filter(Boolean).join("/");
  const put = async (key: string, body: string) => {
    try {
      await env.writerS3.send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentType: "application/json" }));
    } catch (e) {
      throw new StatesError("States.ResultWriterFailed", `s3:putObject s3://${Bucket}/${key}: ${String(e)}`);
    }
    return { Key: key, Size: Buffer.byteLength(body) };
  };
  const ran = children.filter((c) => c.execution);
  const files: Record<"FAILED" | "PENDING" | "SUCCEEDED", { Key: string; Size: number }[]> = {
    FAILED: [],
    PENDING: [],
    SUCCEEDED: [],
  };
  for (const status of ["SUCCEEDED", "FAILED"] as const) {
    const these = ran.filter((c) => (c.execution?.status === "SUCCEEDED") === (status === "SUCCEEDED"));
    if (these.length === 0) continue;
    const body = JSON.stringify(these.map((c) => resultEntry(c, env.stateMachineArn)));
    files[status].push(await put(keyOf(`${status}_0.json`), body));
  }
  const manifest = keyOf("manifest.json");
  await put(manifest, JSON.stringify({ DestinationBucket: Bucket, MapRunArn: mapRunArn, ResultFiles: files }));
  return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket, Key: manifest } };
}

/**
 * One run of a DISTRIBUTED Map state (a Map Run), as AWS documents it:
 * - ItemReader (S3 CSV, `CSVHeaderLocation` FIRST_ROW or GIVEN: objects of strings; or a JSON array; MaxItems), read
 *   as the state machine's role; or the array at ItemsPath;
 * - ItemSelector per item (`$$.Map.Item.Index/Value`), then ItemBatcher (MaxItemsPerBatch, MaxInputBytesPerBatch
 *   at most the payload limit, BatchInput evaluated against the Map's input): each child gets
 *   `{ "BatchInput": {…}, "Items": […] }`; a child's input over the payload limit is States.DataLimitExceeded;
 * - each child an execution of the ItemProcessor's states, started as the state machine's role, at most
 *   MaxConcurrency at once (0 or none: no bound of the harness's own);
 * - ToleratedFailurePercentage / ToleratedFailureCount (and their Path forms), counted in items (a failed batch
 *   fails all its items), none given meaning none tolerated: once exceeded no child starts, the running ones
 *   are stopped, and the Map fails with States.ExceedToleratedFailureThreshold (after its ResultWriter wrote);
 * - ResultWriter: results written to S3 (see {@link writeResults}); without one the Map's result is the array of
 *   the children's outputs (a failed, tolerated child's `{ Error, Cause }`), at most the payload limit.
 * Stopping the parent stops the Map Run and its children.
 */
export async function runDistributedMap(
  stateName: string,
  state: AslState,
  input: Json,
  env: DistributedMapEnv,
): Promise<Json> {
  const items = state.ItemReader
    ? await readS3Items(state, input, env)
    : await evaluatePath(String(state.ItemsPath ?? "$"), input);
  if (!Array.isArray(items)) throw new StatesError("States.Runtime", `the items of ${stateName} are not an array`);
  const inputs = await childInputs(state, input, items, env);
  const limit = env.limits.payloadBytes;
  for (const c of inputs) {
    const bytes = jsonBytes(c.input);
    if (bytes > limit) throw dataLimitExceeded(state, `a child input of ${stateName}`, bytes, limit);
  }
  const processor = state.ItemProcessor as AslDefinition & { ProcessorConfig?: unknown };
  const { ProcessorConfig: _config, ...childDefinition } = processor;
  const label = String(state.Label ?? stateName);
  const mapRunId = randomUUID();
  const mapRunArn = `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:mapRun:${env.stateMachineName}/${label}:${mapRunId}`;
  const children: ChildRun[] = inputs.map((c) => {
    const name = randomUUID();
    return {
      name,
      executionArn: `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:execution:${env.stateMachineName}/${label}:${name}`,
      input: c.input,
      items: c.items,
    };
  });

  const total = items.length;
  const percentage = await numberField(state, "ToleratedFailurePercentage", input);
  const count = await numberField(state, "ToleratedFailureCount", input);
  const exceeded = (failed: number) =>
    percentage === undefined && count === undefined
      ? failed > 0
      : (count !== undefined && failed > count) || (percentage !== undefined && (failed * 100) / total > percentage);
  const concurrency = (await numberField(state, "MaxConcurrency", input)) || children.length;

  let next = 0;
  let failedItems = 0;
  let stopping = false;
  const running = new Set<AslExecution>();
  const stopAll = () => {
    stopping = true;
    for (const r of running) r.stop();
  };
  env.signal.addEventListener("abort", stopAll, { once: true });
  const worker = async () => {
    while (!stopping && next < children.length) {
      const child = children[next++] as ChildRun;
      const execution = env.startChild(childDefinition as AslDefinition, child.input, child.executionArn, child.name);
      child.execution = execution;
      running.add(execution);
      await execution.done;
      running.delete(execution);
      // A child the Map Run itself stopped (the threshold crossed) is not one more failure.
      if (execution.status === "FAILED" || (execution.status !== "SUCCEEDED" && !stopping)) {
        failedItems += child.items;
        if (!stopping && exceeded(failedItems)) stopAll();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, children.length) }, worker));
  env.signal.removeEventListener("abort", stopAll);
  if (env.signal.aborted) throw new StatesError("States.Runtime", `the execution was stopped during ${stateName}`);

  const writer = state.ResultWriter as
    | { Resource?: string; Parameters?: unknown; WriterConfig?: { Transformation?: string; OutputType?: string } }
    | undefined;
  const exceededError = () =>
    new StatesError(
      "States.ExceedToleratedFailureThreshold",
      `The specified tolerated failure threshold was exceeded: ${failedItems} of ${total} items failed (${mapRunArn})`,
    );
  if (writer?.Resource) {
    const output = await writeResults(
      writer as { Resource: string; Parameters?: unknown },
      input,
      children,
      mapRunId,
      mapRunArn,
      env,
    );
    if (stopping) throw exceededError();
    return output;
  }
  if (stopping) throw exceededError();
  const transformation = writer?.WriterConfig?.Transformation ?? "COMPACT";
  const results = children.map((c): Json => {
    const e = c.execution as AslExecution;
    if (transformation === "NONE") return resultEntry(c, env.stateMachineArn) as Json;
    if (e.status !== "SUCCEEDED") return { Error: e.error ?? null, Cause: e.cause ?? null };
    return e.output ?? null;
  });
  const output = transformation === "FLATTEN" ? results.flatMap((r) => (Array.isArray(r) ? r : [r])) : results;
  const bytes = jsonBytes(output);
  const resultLimit = Math.min(limit, env.limits.distributedMapResultBytes);
  if (bytes > resultLimit)
    throw dataLimitExceeded(state, `the results of ${stateName} (${children.length} children)`, bytes, resultLimit);
  return output;
}
