import {
  type BatchGetItemCommandInput,
  type BatchGetItemCommandOutput,
  type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput,
  DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
  ThrottlingException,
} from "@aws-sdk/client-dynamodb";
import { localClientConfig } from "../../bin/io/dynamodb-local";
import { seededRandom } from "../../scripts/seeded-random";

/**
 * What can go wrong with one DynamoDB call, as DynamoDB and the network make it go wrong:
 * - `throttle`: refused before it is applied (ThrottlingException / ProvisionedThroughputExceededException);
 * - `unavailable`: a 500 InternalServerError, not applied;
 * - `lost-response`: applied, then the connection drops before the answer arrives (ECONNRESET);
 * - `unprocessed`: a BatchWriteItem / BatchGetItem that does half its items and hands back the rest as unprocessed;
 * - `crash`: applied, then the caller dies (an error no retry handles: the Lambda timed out, the process was killed).
 */
export type Fault = "throttle" | "unavailable" | "lost-response" | "unprocessed" | "crash";

/**
 * Decides the fault a command meets, if any: once per call (`call`: where `unprocessed` applies) and once per
 * attempt of it (`attempt`: every other fault). A fault that does not apply where it is returned is ignored.
 */
export type FaultPlan = (command: string, stage: "call" | "attempt") => Fault | undefined;

/** Thrown by a `crash` fault: the caller died after the call was applied. */
export class InjectedCrashError extends Error {
  constructor(command: string) {
    super(`injected: the caller died after ${command} was applied`);
    this.name = "InjectedCrashError";
  }
}

/** Which faults were injected, and how many attempts each command made. */
export interface FaultLog {
  injected: Record<Fault, number>;
  attempts: Record<string, number>;
}

const BATCH_COMMANDS = new Set(["BatchWriteItemCommand", "BatchGetItemCommand"]);

/**
 * A real DynamoDBClient on DynamoDB Local, configured as hiwari's own clients are (the same retry settings), with
 * faults injected by middleware where they happen in life: throttling, 500s and dropped connections inside the
 * SDK's retry loop (so its backoff handles them, or not), unprocessed items around it (so hiwari's own code must).
 * `setPlan` changes the plan; `log` counts what happened.
 */
export function faultyClient(endpoint: string, initial: FaultPlan = () => undefined) {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  let plan = initial;
  const log: FaultLog = {
    injected: { throttle: 0, unavailable: 0, "lost-response": 0, unprocessed: 0, crash: 0 },
    attempts: {},
  };
  const decide = (command: string, stage: "call" | "attempt"): Fault | undefined => {
    const fault = plan(command, stage);
    if (fault === undefined || (fault === "unprocessed") !== (stage === "call")) return undefined;
    log.injected[fault]++;
    return fault;
  };

  // Around the retry loop: half of a batch call's items come back unprocessed.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? "";
      if (!BATCH_COMMANDS.has(command) || decide(command, "call") === undefined) return next(args);
      return command === "BatchWriteItemCommand" ? halfOfWrite(next, args) : halfOfGet(next, args);
    },
    { step: "initialize", name: "injectUnprocessedItems" },
  );

  // Inside the retry loop (below the SDK's retry middleware): each attempt may fail.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? "";
      log.attempts[command] = (log.attempts[command] ?? 0) + 1;
      const fault = decide(command, "attempt");
      const $metadata = { httpStatusCode: 400, attempts: 1 };
      if (fault === "throttle")
        throw log.injected.throttle % 2 === 0
          ? new ThrottlingException({ message: "injected: throttled", $metadata })
          : new ProvisionedThroughputExceededException({ message: "injected: throughput exceeded", $metadata });
      if (fault === "unavailable")
        throw new InternalServerError({ message: "injected: internal error", $metadata: { httpStatusCode: 500 } });
      const result = await next(args);
      if (fault === "lost-response")
        throw Object.assign(new Error("injected: socket hang up after the call was applied"), { code: "ECONNRESET" });
      if (fault === "crash") throw new InjectedCrashError(command);
      return result;
    },
    { step: "finalizeRequest", priority: "low", name: "injectFaults" },
  );

  return {
    client,
    log,
    setPlan(next: FaultPlan) {
      plan = next;
    },
  };
}

type Next = (args: { input: object }) => Promise<{ output: object; response: unknown }>;

async function halfOfWrite(next: Next, args: { input: object }) {
  const input = args.input as BatchWriteItemCommandInput;
  const [table, requests] = Object.entries(input.RequestItems ?? {})[0] ?? ["", []];
  const keep = Math.ceil(requests.length / 2);
  const result = await next({ ...args, input: { ...input, RequestItems: { [table]: requests.slice(0, keep) } } });
  const output = result.output as BatchWriteItemCommandOutput;
  const unprocessed = [...(output.UnprocessedItems?.[table] ?? []), ...requests.slice(keep)];
  return { ...result, output: { ...output, UnprocessedItems: unprocessed.length ? { [table]: unprocessed } : {} } };
}

async function halfOfGet(next: Next, args: { input: object }) {
  const input = args.input as BatchGetItemCommandInput;
  const [table, request] = Object.entries(input.RequestItems ?? {})[0] ?? ["", { Keys: [] }];
  const keys = request.Keys ?? [];
  const keep = Math.ceil(keys.length / 2);
  const result = await next({
    ...args,
    input: { ...input, RequestItems: { [table]: { ...request, Keys: keys.slice(0, keep) } } },
  });
  const output = result.output as BatchGetItemCommandOutput;
  const left = [...(output.UnprocessedKeys?.[table]?.Keys ?? []), ...keys.slice(keep)];
  return {
    ...result,
    output: { ...output, UnprocessedKeys: left.length ? { [table]: { ...request, Keys: left } } : {} },
  };
}

/**
 * Each batched call and each attempt meets, with probability `rate` from a seeded generator, one of the `faults`
 * that apply there: `unprocessed` around a batched call, the others on an attempt. (Drawing from all of them at
 * both stages wasted three draws in four: a batched call met `unprocessed` a fortieth of the time, too rarely
 * for a test to be sure of meeting it.)
 */
export function randomFaults(seed: number, rate: number, faults: readonly Fault[]): FaultPlan {
  const random = seededRandom(seed);
  const atCall = faults.filter((f) => f === "unprocessed");
  const atAttempt = faults.filter((f) => f !== "unprocessed");
  return (_command, stage) => {
    const here = stage === "call" ? atCall : atAttempt;
    return here.length > 0 && random() < rate ? here[Math.floor(random() * here.length)] : undefined;
  };
}

/** The `k`-th attempt (1-based) of `command` crashes after it is applied; nothing else fails. */
export function crashAt(command: string, k: number): FaultPlan {
  let seen = 0;
  return (name, stage) => (name === command && stage === "attempt" && ++seen === k ? "crash" : undefined);
}
