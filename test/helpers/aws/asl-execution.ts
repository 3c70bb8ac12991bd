import "./promise-with-resolvers";
import {
  ExecutionAbortedError,
  ExecutionError,
  StateMachine,
  type StateMachineDefinition,
} from "aws-local-stepfunctions";
import { type AwsLimits, jsonBytes } from "./aws-limits";

/** A JSON value as states pass it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An ASL state, as read from a definition (only what the harness looks at is typed). */
export type AslState = Record<string, unknown> & { Type: string };
export type AslDefinition = { StartAt: string; States: Record<string, AslState> } & Record<string, unknown>;

/** Step Functions' execution statuses. */
export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED" | "TIMED_OUT";

/**
 * An error a state reports, as Step Functions names it: `name` is the error name a Retry or Catch matches (the
 * Lambda's `errorType`, or `States.…`), `message` the Cause. aws-local-stepfunctions reads `isRetryable` and
 * `isCatchable` on what a Task throws.
 */
export class StatesError extends Error {
  constructor(
    name: string,
    cause: string,
    readonly isRetryable = true,
    readonly isCatchable = true,
  ) {
    super(cause);
    this.name = name;
  }
}

/**
 * States.DataLimitExceeded, thrown inside a state (a task's payload after Parameters, a task's result, a Map's
 * child input or aggregated result). AWS: "a terminal error that can't be caught by the States.ALL error type";
 * a Retry or Catch naming it explicitly still applies (and, ASL requiring States.ALL to come last, is met first).
 */
export function dataLimitExceeded(state: AslState, what: string, bytes: number, limit: number): StatesError {
  const names = (field: "Retry" | "Catch") =>
    ((state[field] ?? []) as { ErrorEquals: string[] }[]).some((r) =>
      r.ErrorEquals.includes("States.DataLimitExceeded"),
    );
  return new StatesError(
    "States.DataLimitExceeded",
    `${what} is ${bytes} bytes, over the ${limit}-byte payload limit`,
    names("Retry"),
    names("Catch"),
  );
}

/** The definitions asl-validator found valid (as JSON text). */
const validated = new Set<string>();

/** What a Task state does, given its input after InputPath and Parameters; returns its result. */
export type TaskHandler = (input: Json, scope: ExecutionScope) => Promise<Json>;

/** What a Task handler may know of the execution it runs in. */
export interface ExecutionScope {
  executionArn: string;
  stateMachineArn: string;
  /** Set when the execution is stopped (or failed terminally): a Map stops its children. */
  signal: AbortSignal;
}

/** The execution's identity, for the context object (`$$.Execution.Id`, `$$.StateMachine.Id`). */
export interface ExecutionIdentity {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  stateMachineName: string;
  roleArn: string;
}

export interface RunAslOptions {
  identity: ExecutionIdentity;
  /** The handler of each Task state (by name and definition); a Task without one fails the run before it starts. */
  taskHandler(stateName: string, state: AslState): TaskHandler;
  limits: AwsLimits;
  /** What each Retry waits, instead of its IntervalSeconds/BackoffRate/jitter (0: retry at once). */
  retryDelayMs?: number;
}

/** One entry of an execution's history (what the interpreter reported). */
export interface HistoryEvent {
  type: string;
  state?: string;
  /** The iteration of an inline Map the state ran in. */
  index?: number;
  error?: string;
  cause?: string;
}

/** Every Task and Retry-bearing state of a definition, nested inline Maps and Parallel branches included. */
function statesOf(definition: { States: Record<string, AslState> }): [string, AslState][] {
  const out: [string, AslState][] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    out.push([name, state]);
    const processor = (state.ItemProcessor ?? state.Iterator) as AslDefinition | undefined;
    if (processor) out.push(...statesOf(processor));
    for (const branch of (state.Branches ?? []) as AslDefinition[]) out.push(...statesOf(branch));
  }
  return out;
}

/**
 * One execution of an ASL definition under aws-local-stepfunctions (JSONPath, inline Map, Parallel, Choice,
 * Retry/Catch, ResultSelector/ResultPath/OutputPath, ErrorPath/CausePath), with Step Functions' payload limit
 * enforced as AWS documents States.DataLimitExceeded:
 * - a Task's input after Parameters and its result (before ResultSelector) are measured inside the state, so
 *   only a Retry/Catch naming States.DataLimitExceeded applies (see {@link dataLimitExceeded});
 * - every state's input and output (as the interpreter reports them) are measured too, and an inline Map's result
 *   (the array of its iterations' outputs, before its ResultPath, as a Task's result is measured); one over the
 *   limit fails the execution with States.DataLimitExceeded, no Catch applying. Every Task waits for those reports
 *   before it runs, so nothing is invoked past a state whose output was over the limit.
 * Retries wait `retryDelayMs` (0 by default) instead of their backoff; a Task without TimeoutSeconds gets the
 * interpreter's 60 s (AWS: none), the emulated Map's Task a day.
 */
export class AslExecution {
  status: ExecutionStatus = "RUNNING";
  output: Json | undefined;
  error: string | undefined;
  cause: string | undefined;
  readonly startDate = new Date();
  stopDate: Date | undefined;
  readonly history: HistoryEvent[] = [];
  /** Settles when the execution has ended (never rejects). */
  readonly done: Promise<AslExecution>;
  private readonly controller = new AbortController();
  private terminal: { error: string; cause: string } | undefined;
  private stopped: { error: string; cause: string } | undefined;
  private abortRun: () => void = () => {};

  constructor(
    readonly definition: AslDefinition,
    readonly input: Json,
    private readonly options: RunAslOptions,
  ) {
    this.done = this.run();
  }

  get identity(): ExecutionIdentity {
    return this.options.identity;
  }

  /** StopExecution: the execution ends ABORTED at once; a Task in flight (a Lambda invocation) runs on. */
  stop(error = "", cause = ""): void {
    if (this.status !== "RUNNING" || this.stopped) return;
    this.stopped = { error, cause };
    this.controller.abort();
    this.abortRun();
  }

  private fail(error: string, cause: string) {
    if (this.terminal || this.stopped) return;
    this.terminal = { error, cause };
    this.controller.abort();
    this.abortRun();
  }

  private checkSize(value: unknown, what: string) {
    const bytes = jsonBytes(value);
    const limit = this.options.limits.payloadBytes;
    if (bytes > limit)
      this.fail("States.DataLimitExceeded", `${what} is ${bytes} bytes, over the ${limit}-byte payload limit`);
  }

  /** Lets the reports of what ran so far be read (and a limit they broke end the run) before a Task runs. */
  private async gate(stateName: string) {
    await new Promise((r) => setImmediate(r));
    if (this.terminal || this.stopped)
      throw new StatesError("States.Runtime", `the execution ended before ${stateName} ran`, false, false);
  }

  private overrides() {
    const scope: ExecutionScope = {
      executionArn: this.identity.executionArn,
      stateMachineArn: this.identity.stateMachineArn,
      signal: this.controller.signal,
    };
    const limit = this.options.limits.payloadBytes;
    const taskResourceLocalHandlers: Record<string, (input: unknown) => Promise<Json>> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    for (const [name, state] of statesOf(this.definition)) {
      if (state.Retry) retryIntervalOverrides[name] = this.options.retryDelayMs ?? 0;
      if (state.Type !== "Task") continue;
      const handler = this.options.taskHandler(name, state);
      taskResourceLocalHandlers[name] = async (input) => {
        await this.gate(name);
        const inBytes = jsonBytes(input);
        if (inBytes > limit) throw dataLimitExceeded(state, `the input of ${name} after Parameters`, inBytes, limit);
        const result = await handler(input as Json, scope);
        const outBytes = jsonBytes(result);
        if (outBytes > limit) throw dataLimitExceeded(state, `the result of ${name}`, outBytes, limit);
        return result;
      };
    }
    return { taskResourceLocalHandlers, retryIntervalOverrides };
  }

  private async run(): Promise<AslExecution> {
    let machine: StateMachine;
    try {
      // asl-validator takes ~0.3 s a definition: each is validated once, not once per Map child.
      const text = JSON.stringify(this.definition);
      machine = new StateMachine(this.definition as unknown as StateMachineDefinition, {
        validationOptions: validated.has(text) ? { noValidate: true } : { checkArn: true, checkPaths: true },
      });
      validated.add(text);
    } catch (e) {
      this.end("FAILED", undefined, "States.Runtime", (e as Error).message);
      return this;
    }
    const { identity } = this.options;
    const execution = machine.run(this.input, {
      overrides: this.overrides(),
      context: {
        Execution: { Id: identity.executionArn, Name: identity.name, RoleArn: identity.roleArn },
        StateMachine: { Id: identity.stateMachineArn, Name: identity.stateMachineName },
      },
    });
    this.abortRun = execution.abort;
    if (this.controller.signal.aborted) execution.abort();
    const mapResults = new Map<string, { bytes: number; count: number }>();
    const monitor = (async () => {
      for await (const event of execution.eventLogs) {
        const e = event as unknown as {
          type: string;
          state?: { name: string; type: string; input: unknown; output?: unknown };
          parentState?: { name: string };
          output?: unknown;
          index?: number;
          Error?: string;
          Cause?: unknown;
        };
        this.history.push({
          type: e.type,
          ...(e.state ? { state: e.state.name } : {}),
          ...(e.index !== undefined ? { index: e.index } : {}),
          ...(e.Error !== undefined ? { error: e.Error, cause: String(e.Cause) } : {}),
        });
        if (e.type === "StateEntered" && e.state) {
          this.checkSize(e.state.input, `the input of ${e.state.name}`);
          if (e.state.type === "Map") mapResults.set(e.state.name, { bytes: 2, count: 0 });
        }
        if (e.type === "StateExited" && e.state) this.checkSize(e.state.output, `the output of ${e.state.name}`);
        if (e.type === "MapIterationSucceeded" && e.parentState) {
          // An inline Map's result, the array of its iterations' outputs, as a Task's result (before ResultPath).
          const m = mapResults.get(e.parentState.name) ?? { bytes: 2, count: 0 };
          m.bytes += jsonBytes(e.output) + (m.count > 0 ? 1 : 0);
          m.count++;
          mapResults.set(e.parentState.name, m);
          if (m.bytes > this.options.limits.payloadBytes)
            this.fail(
              "States.DataLimitExceeded",
              `the result of ${e.parentState.name} (${m.count} iterations so far) is ${m.bytes} bytes, over the ${this.options.limits.payloadBytes}-byte payload limit`,
            );
        }
      }
    })();
    let output: Json | undefined;
    let failure: { error: string; cause: string } | undefined;
    try {
      output = (await execution.result) as Json;
    } catch (e) {
      if (e instanceof ExecutionError) {
        const cause = e.cause as Error;
        failure = { error: cause.name, cause: cause.message };
      } else if (!(e instanceof ExecutionAbortedError)) failure = { error: "States.Runtime", cause: String(e) };
    }
    // The reports of the last states (an output over the limit) are read before the outcome is decided: the
    // interpreter closes its log when the execution ends, however it ends.
    await monitor;
    if (this.stopped) this.end("ABORTED", undefined, this.stopped.error, this.stopped.cause);
    else if (this.terminal) this.end("FAILED", undefined, this.terminal.error, this.terminal.cause);
    else if (failure) this.end("FAILED", undefined, failure.error, failure.cause);
    else this.end("SUCCEEDED", output);
    return this;
  }

  private end(status: ExecutionStatus, output: Json | undefined, error?: string, cause?: string) {
    this.status = status;
    this.output = output;
    this.error = error || undefined;
    this.cause = cause || undefined;
    this.stopDate = new Date();
    if (!this.controller.signal.aborted) this.controller.abort();
  }
}

/** A payload template (`"key.$": "$.path"`, intrinsic functions) evaluated as Step Functions does, by the interpreter itself. */
export async function evaluateTemplate(template: unknown, input: Json, context: Record<string, unknown> = {}) {
  const machine = new StateMachine(
    { StartAt: "T", States: { T: { Type: "Pass", Parameters: template as { [key: string]: Json }, End: true } } },
    { validationOptions: { noValidate: true } },
  );
  return (await machine.run(input, { context }).result) as Json;
}

/** A JSONPath (`$.a.b`, `$$.Map.Item.Value`) evaluated as Step Functions does. */
export async function evaluatePath(path: string, input: Json, context: Record<string, unknown> = {}) {
  const out = (await evaluateTemplate({ "value.$": path }, input, context)) as { value: Json };
  return out.value;
}
