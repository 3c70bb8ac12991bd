import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidExecutionInput,
  InvalidName,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import {
  type AslDefinition,
  AslExecution,
  type AslState,
  type Json,
  StatesError,
  type TaskHandler,
} from "./asl-execution";
import { type AwsLimits, EXECUTION_NAME } from "./aws-limits";
import { ACCOUNT, type DeployedTemplate, PARTITION, REGION } from "./deployed-template";
import { DISTRIBUTED_MAP_RESOURCE, rewriteDistributedMaps, runDistributedMap } from "./distributed-map";
import type { FakeEventBridge } from "./fake-eventbridge";
import type { FakeS3 } from "./fake-s3";
import type { AwsCallLog, Principal } from "./iam-policy";
import type { LambdaService } from "./lambda-service";

/** A state machine of the template, as the service runs it. */
export interface DeployedStateMachine {
  logicalId: string;
  arn: string;
  name: string;
  roleId: string;
  roleArn: string;
  loggingEnabled: boolean;
  /** The definition with its DISTRIBUTED Maps replaced by harness Tasks. */
  definition: AslDefinition;
  maps: Record<string, AslState>;
}

/** An execution the service started: its input as given (text) and the run itself. */
export interface ExecutionRecord {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  input: string;
  execution: AslExecution;
}

export interface StepFunctionsOptions {
  template: DeployedTemplate;
  log: AwsCallLog;
  lambdas: LambdaService;
  s3: FakeS3;
  events: FakeEventBridge;
  limits: AwsLimits;
  retryDelayMs?: number;
}

/**
 * The definition with TimeoutSeconds set on every Task that has none: AWS then waits as long as the execution may
 * run (the Lambda's own timeout ends the invocation first), where the interpreter would stop it after 60 s.
 */
function withTaskTimeouts(definition: AslDefinition): AslDefinition {
  const walk = (d: AslDefinition): AslDefinition => ({
    ...d,
    States: Object.fromEntries(
      Object.entries(d.States).map(([name, state]) => {
        const s: AslState = { ...state };
        if (s.Type === "Task" && s.TimeoutSeconds === undefined && s.TimeoutSecondsPath === undefined)
          s.TimeoutSeconds = 86_400;
        if (s.ItemProcessor) s.ItemProcessor = walk(s.ItemProcessor as AslDefinition);
        if (s.Iterator) s.Iterator = walk(s.Iterator as AslDefinition);
        if (s.Branches) s.Branches = (s.Branches as AslDefinition[]).map(walk);
        return [name, s];
      }),
    ),
  });
  return walk(definition);
}

const sfnError = (
  Type: new (o: { message: string; $metadata: object }) => SFNServiceException,
  message: string,
): SFNServiceException => new Type({ message, $metadata: { httpStatusCode: 400 } });

const validation = (message: string) =>
  new SFNServiceException({
    name: "ValidationException",
    $fault: "client",
    message,
    $metadata: { httpStatusCode: 400 },
  });

/**
 * Step Functions for the template's state machines. StartExecution as AWS answers it for a STANDARD state machine:
 * - a name of 1 to 80 characters (ValidationException), of `0-9 A-Z a-z - _` when the state machine logs to
 *   CloudWatch Logs (InvalidName); an input of valid JSON (InvalidExecutionInput) of at most the payload limit
 *   (ValidationException);
 * - a name in use: the same input while that execution is still running answers as the first call did (its ARN and
 *   start date), and starts nothing; another input, or an execution that has ended, ExecutionAlreadyExists.
 * Each execution runs under the interpreter ({@link AslExecution}), its Tasks invoking the template's Lambda
 * functions in process (`arn:aws:lambda:…:function:…` directly or `arn:aws:states:::lambda:invoke`), as the state
 * machine's role (`lambda:InvokeFunction` checked); its DISTRIBUTED Maps emulated ({@link runDistributedMap}), their
 * ItemReader, ResultWriter and children's StartExecution as the state machine's role too. A Lambda error reaches
 * the state machine as Step Functions reports it: Error the `errorType`, Cause the JSON of the runtime's error.
 * Every status change of an execution goes to the default bus as "Step Functions Execution Status Change".
 */
export class StepFunctionsService {
  private readonly machines = new Map<string, DeployedStateMachine>();
  readonly executions = new Map<string, ExecutionRecord>();

  constructor(private readonly o: StepFunctionsOptions) {}

  /** Deploys the template's state machine whose logical id starts with `prefix`. */
  deploy(prefix: string, change?: (definition: AslDefinition) => AslDefinition): DeployedStateMachine {
    const sm = this.o.template.stateMachine(prefix);
    const original = sm.definition as AslDefinition;
    const { definition, maps } = rewriteDistributedMaps(withTaskTimeouts(change ? change(original) : original));
    const machine: DeployedStateMachine = {
      logicalId: sm.logicalId,
      arn: sm.arn,
      name: sm.name,
      roleId: sm.roleId,
      roleArn: this.o.template.getAtt(sm.roleId, "Arn"),
      loggingEnabled: sm.loggingEnabled,
      definition,
      maps,
    };
    this.machines.set(machine.arn, machine);
    return machine;
  }

  /** An SFNClient whose calls are made as `principal`: StartExecution, DescribeExecution, StopExecution. */
  clientFor(principal: Principal): SFNClient {
    const client = new SFNClient({ region: REGION, credentials: { accessKeyId: "x", secretAccessKey: "x" } });
    const mock = mockClient(client);
    mock.onAnyCommand().callsFake(async () => {
      throw new Error("the fake Step Functions serves StartExecution, DescribeExecution and StopExecution only");
    });
    mock.on(StartExecutionCommand).callsFake(async (input) => this.startExecution(principal, input));
    mock.on(DescribeExecutionCommand).callsFake(async (input) => {
      this.authorize(principal, "DescribeExecutionCommand", "states:DescribeExecution", input.executionArn ?? "");
      const record = this.executions.get(input.executionArn ?? "");
      if (!record) throw sfnError(ExecutionDoesNotExist, `Execution Does Not Exist: '${input.executionArn}'`);
      const e = record.execution;
      return {
        executionArn: record.executionArn,
        stateMachineArn: record.stateMachineArn,
        name: record.name,
        status: e.status,
        startDate: e.startDate,
        ...(e.stopDate ? { stopDate: e.stopDate } : {}),
        input: record.input,
        ...(e.output !== undefined ? { output: JSON.stringify(e.output) } : {}),
        ...(e.error ? { error: e.error } : {}),
        ...(e.cause ? { cause: e.cause } : {}),
        $metadata: { httpStatusCode: 200 },
      };
    });
    mock.on(StopExecutionCommand).callsFake(async (input) => {
      this.authorize(principal, "StopExecutionCommand", "states:StopExecution", input.executionArn ?? "");
      this.stop(input.executionArn ?? "", input.error, input.cause);
      return { stopDate: new Date(), $metadata: { httpStatusCode: 200 } };
    });
    return client;
  }

  private authorize(principal: Principal, operation: string, action: string, resource: string) {
    const call = this.o.log.record(principal, operation, action, resource);
    if (this.o.log.refuses(call))
      throw new SFNServiceException({
        name: "AccessDeniedException",
        $fault: "client",
        message: `User: ${principal.roleId} is not authorized to perform: ${action} on resource: ${resource}`,
        $metadata: { httpStatusCode: 400 },
      });
  }

  /** StartExecution, as `principal` (the caller's role). */
  startExecution(
    principal: Principal,
    request: { stateMachineArn?: string; name?: string; input?: string },
  ): { executionArn: string; startDate: Date; $metadata: object } {
    const arn = request.stateMachineArn ?? "";
    this.authorize(principal, "StartExecutionCommand", "states:StartExecution", arn);
    const machine = this.machines.get(arn);
    if (!machine) throw sfnError(StateMachineDoesNotExist, `State Machine Does Not Exist: '${arn}'`);
    const name = request.name ?? crypto.randomUUID();
    const { limits } = this.o;
    if (name.length < 1 || name.length > limits.executionNameMaxLength)
      throw validation(
        `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to ${limits.executionNameMaxLength}`,
      );
    if (machine.loggingEnabled && !EXECUTION_NAME.test(name)) throw sfnError(InvalidName, `Invalid Name: '${name}'`);
    const text = request.input ?? "{}";
    const bytes = Buffer.byteLength(text, "utf8");
    if (bytes > limits.payloadBytes)
      throw validation(
        `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${limits.payloadBytes} (it is ${bytes} bytes)`,
      );
    let input: Json;
    try {
      input = JSON.parse(text) as Json;
    } catch {
      throw sfnError(InvalidExecutionInput, `Invalid State Machine Execution Input: '${text.slice(0, 80)}'`);
    }
    const executionArn = `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:execution:${machine.name}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.input === text && existing.execution.status === "RUNNING")
        return { executionArn, startDate: existing.execution.startDate, $metadata: { httpStatusCode: 200 } };
      throw sfnError(ExecutionAlreadyExists, `Execution Already Exists: '${executionArn}'`);
    }
    const execution = this.run(machine, machine.definition, input, executionArn, name);
    this.executions.set(executionArn, { executionArn, name, stateMachineArn: arn, input: text, execution });
    return { executionArn, startDate: execution.startDate, $metadata: { httpStatusCode: 200 } };
  }

  /** StopExecution: the execution ends ABORTED (its Map Run's children stopped with it). */
  stop(executionArn: string, error?: string, cause?: string): void {
    const record = this.executions.get(executionArn);
    if (!record) throw sfnError(ExecutionDoesNotExist, `Execution Does Not Exist: '${executionArn}'`);
    record.execution.stop(error, cause);
  }

  /** The execution, once ended. */
  async result(executionArn: string): Promise<AslExecution> {
    const record = this.executions.get(executionArn);
    if (!record) throw new Error(`no execution ${executionArn}`);
    return record.execution.done;
  }

  /** Waits until no execution runs, no Lambda invocation is in flight and no event is being delivered. */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.executions.values()].filter((r) => r.execution.status === "RUNNING");
      await Promise.all(running.map((r) => r.execution.done));
      await this.o.lambdas.settled();
      await this.o.events.settled();
      if ([...this.executions.values()].every((r) => r.execution.status !== "RUNNING")) return;
    }
  }

  private run(
    machine: DeployedStateMachine,
    definition: AslDefinition,
    input: Json,
    executionArn: string,
    name: string,
    reportedMachineArn = machine.arn,
  ): AslExecution {
    const execution = new AslExecution(definition, input, {
      identity: {
        executionArn,
        name,
        stateMachineArn: machine.arn,
        stateMachineName: machine.name,
        roleArn: machine.roleArn,
      },
      limits: this.o.limits,
      ...(this.o.retryDelayMs !== undefined ? { retryDelayMs: this.o.retryDelayMs } : {}),
      taskHandler: (stateName, state) => this.taskHandler(machine, stateName, state),
    });
    const report = () => {
      const e = execution;
      this.o.events.emit({
        "detail-type": "Step Functions Execution Status Change",
        source: "aws.states",
        time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        resources: [executionArn],
        detail: {
          executionArn,
          stateMachineArn: reportedMachineArn,
          name,
          status: e.status,
          startDate: e.startDate.getTime(),
          stopDate: e.stopDate?.getTime() ?? null,
          input: JSON.stringify(input),
          output: e.output === undefined ? null : JSON.stringify(e.output),
          inputDetails: { included: true },
          outputDetails: e.output === undefined ? null : { included: true },
          error: e.error ?? null,
          cause: e.cause ?? null,
        },
      });
    };
    report();
    void execution.done.then(report);
    return execution;
  }

  private taskHandler(machine: DeployedStateMachine, stateName: string, state: AslState): TaskHandler {
    const resource = String(state.Resource);
    const principal = (actor: string): Principal => ({
      roleId: machine.roleId,
      actor: `${machine.logicalId} (${actor})`,
    });
    if (resource === DISTRIBUTED_MAP_RESOURCE) {
      const map = machine.maps[stateName] as AslState;
      const label = String(map.Label ?? stateName);
      return (input, scope) =>
        runDistributedMap(stateName, map, input, {
          stateMachineArn: machine.arn,
          stateMachineName: machine.name,
          limits: this.o.limits,
          readerS3: this.o.s3.clientFor(principal(`${stateName} ItemReader`)),
          writerS3: this.o.s3.clientFor(principal(`${stateName} ResultWriter`)),
          signal: scope.signal,
          startChild: (definition, childInput, executionArn, name) => {
            const call = this.o.log.record(
              principal(`${stateName} Map Run`),
              "StartExecution (Map Run child)",
              "states:StartExecution",
              machine.arn,
            );
            const refused: AslDefinition = {
              StartAt: "Refused",
              States: { Refused: { Type: "Fail", Error: "States.Runtime", Cause: "not authorized to StartExecution" } },
            };
            const child = this.run(
              machine,
              this.o.log.refuses(call) ? refused : definition,
              childInput,
              executionArn,
              name,
              `${machine.arn}/${label}`,
            );
            this.executions.set(executionArn, {
              executionArn,
              name,
              stateMachineArn: `${machine.arn}/${label}`,
              input: JSON.stringify(childInput),
              execution: child,
            });
            return child;
          },
        });
    }
    const lambdaArn = /^arn:aws[-a-z]*:lambda:[^:]+:\d{12}:function:[^:]+/;
    if (lambdaArn.test(resource))
      return async (input) => this.invokeLambda(machine, stateName, resource, input).then((r) => r.Payload as Json);
    if (/^arn:aws[-a-z]*:states:::lambda:invoke$/.test(resource))
      return async (input) => {
        const { FunctionName, Payload } = input as { FunctionName: string; Payload?: Json };
        return (await this.invokeLambda(machine, stateName, FunctionName, Payload ?? null)) as Json;
      };
    throw new Error(`the harness does not emulate the Task resource ${resource} (state ${stateName})`);
  }

  /** Lambda's Invoke as a task makes it: the state machine's role needs lambda:InvokeFunction on the function. */
  private async invokeLambda(machine: DeployedStateMachine, stateName: string, ref: string, payload: Json) {
    const { fn } = this.o.lambdas.find(ref);
    const call = this.o.log.record(
      { roleId: machine.roleId, actor: `${machine.logicalId} (${stateName})` },
      "InvokeCommand",
      "lambda:InvokeFunction",
      ref.startsWith("arn:") ? ref : fn.arn,
    );
    if (this.o.log.refuses(call))
      throw new StatesError("Lambda.AccessDeniedException", `not authorized to invoke ${fn.arn}`);
    const result = await this.o.lambdas.invoke(fn.arn, payload);
    if (!result.ok) throw new StatesError(result.error.errorType, JSON.stringify(result.error));
    return {
      ExecutedVersion: "$LATEST",
      Payload: result.payload as Json,
      StatusCode: 200,
      SdkHttpMetadata: { HttpStatusCode: 200 },
      SdkResponseMetadata: { RequestId: crypto.randomUUID() },
    };
  }
}
