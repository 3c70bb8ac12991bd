import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import type { DeployedFunction } from "./deployed-template";

/** A handler as the Lambda runtime calls it. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** What a failed invocation returns, as the Node.js runtime reports an uncaught error. */
export interface LambdaError {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

export type Invocation = { ok: true; payload: unknown } | { ok: false; error: LambdaError };

/** Runs before each invocation (a test pauses a function there, or changes the world under it). */
export type BeforeInvoke = (fn: DeployedFunction, event: unknown) => Promise<void> | void;

/**
 * The template's Lambda functions, run in process as the Lambda runtime runs them: the event is the JSON the
 * caller sent (a JSON round trip, so nothing but JSON reaches the handler), the context names the function, the
 * response is JSON (a handler returning what JSON cannot carry fails the invocation), an error becomes the
 * runtime's `{ errorType, errorMessage, trace }`, and an invocation past the function's Timeout fails with
 * `Sandbox.Timedout`. Invocations still running are kept, so a test can wait for
 * them (a stopped execution's Lambda runs to its end, as on AWS).
 */
export class LambdaService {
  private readonly handlers = new Map<string, { fn: DeployedFunction; handler: LambdaHandler }>();
  private readonly inFlight = new Set<Promise<unknown>>();
  readonly invocations: { functionName: string; ok: boolean; errorType?: string }[] = [];
  beforeInvoke: BeforeInvoke | undefined;

  register(fn: DeployedFunction, handler: LambdaHandler): void {
    this.handlers.set(fn.arn, { fn, handler });
  }

  /** The function a name, an ARN or a qualified ARN (`…:function:name:$LATEST`) names. */
  find(ref: string): { fn: DeployedFunction; handler: LambdaHandler } {
    const name = ref.startsWith("arn:") ? (ref.split(":")[6] as string) : ref;
    for (const entry of this.handlers.values()) if (entry.fn.name === name) return entry;
    throw new Error(`no handler registered for the Lambda function ${ref}`);
  }

  async invoke(ref: string, payload: unknown): Promise<Invocation> {
    const { fn, handler } = this.find(ref);
    const run = (async (): Promise<Invocation> => {
      const event = JSON.parse(JSON.stringify(payload ?? null)) as unknown;
      await this.beforeInvoke?.(fn, event);
      const deadline = Date.now() + fn.timeoutSeconds * 1000;
      const context = {
        functionName: fn.name,
        functionVersion: "$LATEST",
        invokedFunctionArn: fn.arn,
        memoryLimitInMB: String(fn.memorySize),
        awsRequestId: randomUUID(),
        logGroupName: `/aws/lambda/${fn.name}`,
        logStreamName: "harness",
        callbackWaitsForEmptyEventLoop: true,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      } as unknown as Context;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const e = new Error(`Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`);
          e.name = "Sandbox.Timedout";
          reject(e);
        }, fn.timeoutSeconds * 1000);
      });
      try {
        // Past its timeout the invocation fails as Lambda's does (the handler's promise is left to itself).
        const response = await Promise.race([handler(event, context), timedOut]);
        const text = JSON.stringify(response ?? null);
        return { ok: true, payload: JSON.parse(text) as unknown };
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        return {
          ok: false,
          error: {
            errorType: error.name || "Error",
            errorMessage: error.message,
            trace: (error.stack ?? "").split("\n"),
          },
        };
      } finally {
        clearTimeout(timer);
      }
    })();
    this.inFlight.add(run);
    try {
      const result = await run;
      this.invocations.push({
        functionName: fn.name,
        ok: result.ok,
        ...(result.ok ? {} : { errorType: result.error.errorType }),
      });
      return result;
    } finally {
      this.inFlight.delete(run);
    }
  }

  /** Waits until no invocation is running. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
