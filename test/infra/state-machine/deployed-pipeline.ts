import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { afterAll, beforeAll } from "vitest";
import { type DynamoDbLocal, startDynamoDbLocal } from "../../../bin/io/dynamodb-local";
import * as approveProposal from "../../../functions/approve-proposal/handler";
import { createTables } from "../../../functions/commons/dynamodb/create-tables";
import { DynamoDbRefundStore } from "../../../functions/commons/dynamodb/dynamodb-refund-store";
import { type RunDeps, s3RunDeps } from "../../../functions/commons/runtime";
import { runPrefix, S3RunFiles } from "../../../functions/commons/s3/s3-run-files";
import * as computeBatch from "../../../functions/compute-batch/handler";
import * as finalizeRun from "../../../functions/finalize-run/handler";
import * as prepareRun from "../../../functions/prepare-run/handler";
import * as proposalsApi from "../../../functions/proposals-api/handler";
import * as runsApi from "../../../functions/runs-api/handler";
import * as startRun from "../../../functions/start-run/handler";
import type { ExecutionInput } from "../../../shared/api/run-request";
import { runIdOf, sha256 } from "../../../shared/pipeline/run-context";
import { INCIDENT_FILE } from "../../../shared/pipeline/run-steps";
import type { RunRecord } from "../../../shared/store/refund-store";
import type { AslDefinition, AslExecution } from "../../helpers/aws/asl-execution";
import { AWS_LIMITS, type AwsLimits } from "../../helpers/aws/aws-limits";
import { type CfnResource, type DeployedFunction, DeployedTemplate } from "../../helpers/aws/deployed-template";
import { FakeEventBridge } from "../../helpers/aws/fake-eventbridge";
import { FakeS3 } from "../../helpers/aws/fake-s3";
import { AwsCallLog, type Enforcement, IamPolicies, type Principal } from "../../helpers/aws/iam-policy";
import { type LambdaHandler, LambdaService } from "../../helpers/aws/lambda-service";
import { recordingDynamoDbClient } from "../../helpers/aws/recording-dynamodb";
import { type DeployedStateMachine, StepFunctionsService } from "../../helpers/aws/step-functions";
import { synthApp } from "../template-helpers";

/** What a hiwari function is built with, from its own environment (as the template sets it) and its own role. */
interface FunctionDeps {
  env: Record<string, string>;
  store: () => DynamoDbRefundStore;
  runDeps: () => RunDeps;
  startRunDeps: () => startRun.StartRunDeps;
}

/**
 * Each function of the template, by its logical id's prefix: the source file CDK bundles for it, and for each export
 * its `Handler` may name (`index.<export>`), the factory that file exports for that handler. A template pointing a
 * function at an export its file does not have, or at one the harness does not know, fails the deployment.
 */
const SOURCES: {
  prefix: string;
  module: Record<string, unknown>;
  factories: Record<string, (d: FunctionDeps) => LambdaHandler>;
}[] = [
  {
    prefix: "RunPipelinePrepareRunFunction",
    module: prepareRun,
    factories: { handler: (d) => prepareRun.makeHandler(d.runDeps) as LambdaHandler },
  },
  {
    prefix: "RunPipelineComputeBatchFunction",
    module: computeBatch,
    factories: { handler: (d) => computeBatch.makeHandler(d.runDeps) as LambdaHandler },
  },
  ...["RunPipelineFinalizeRunFunction", "RunPipelineCompleteRunFunction", "RunPipelineFailRunFunction"].map(
    (prefix) => ({
      prefix,
      module: finalizeRun,
      factories: {
        shardHandler: (d: FunctionDeps) => finalizeRun.makeShardHandler(d.runDeps) as LambdaHandler,
        completeHandler: (d: FunctionDeps) => finalizeRun.makeCompleteHandler(d.runDeps) as LambdaHandler,
        failHandler: (d: FunctionDeps) => finalizeRun.makeFailHandler(d.runDeps) as LambdaHandler,
      },
    }),
  ),
  {
    prefix: "FinanceApiStartRunFunction",
    module: startRun,
    factories: { handler: (d) => startRun.makeHandler(async () => d.startRunDeps()) as LambdaHandler },
  },
  {
    prefix: "FinanceApiReadRunsFunction",
    module: runsApi,
    factories: { handler: (d) => runsApi.makeHandler(async () => d.store()) as LambdaHandler },
  },
  {
    prefix: "FinanceApiProposalsFunction",
    module: proposalsApi,
    factories: { handler: (d) => proposalsApi.makeHandler(async () => d.store()) as LambdaHandler },
  },
  {
    prefix: "FinanceApiApproveProposalFunction",
    module: approveProposal,
    factories: {
      handler: (d) =>
        approveProposal.makeHandler(async () => ({ ...d.startRunDeps(), store: d.store() })) as LambdaHandler,
    },
  },
];

/** A variable the template sets on the function, or the error the function's `requiredEnv` would throw. */
function required(fn: DeployedFunction, name: string): string {
  const value = fn.environment[name];
  if (value === undefined) throw new Error(`${fn.logicalId}: the template sets no ${name}`);
  return value;
}

/** The synthesised app and DynamoDB Local (with the template's tables), once per test file. */
export interface DeployedStack {
  template: DeployedTemplate;
  db: DynamoDbLocal;
}

/** Synthesises the app and starts DynamoDB Local before the file's tests; stops it after them. */
export function useDeployedStack(): () => DeployedStack {
  let stack: DeployedStack | undefined;
  let dispose = () => {};
  beforeAll(async () => {
    const [app, db] = await Promise.all([Promise.resolve().then(() => synthApp("prod")), startDynamoDbLocal()]);
    dispose = app.dispose;
    const template = new DeployedTemplate(
      app.template.toJSON() as { Resources: Record<string, CfnResource> },
      app.stack.stackName,
    );
    await createTables(db.client, {
      refunds: template.physicalName(template.logicalId("RefundsTable", "AWS::DynamoDB::Table")),
      runs: template.physicalName(template.logicalId("RunsTable", "AWS::DynamoDB::Table")),
    });
    stack = { template, db };
  }, 120_000);
  afterAll(async () => {
    dispose();
    await stack?.db.stop();
  });
  return () => {
    if (!stack) throw new Error("the stack is deployed in beforeAll");
    return stack;
  };
}

export interface WorldOptions {
  /** AWS's limits, some scaled down. */
  limits?: Partial<AwsLimits>;
  enforcement?: Enforcement;
  /** A change to the state machine's definition before it is deployed (to show what a test catches). */
  change?: (definition: AslDefinition) => AslDefinition;
}

/**
 * The deployed stack, for one test: the template's functions running the hiwari handlers in process, each with its
 * own DynamoDB client (on DynamoDB Local) and S3/Step Functions clients (on the fakes) as its own role; the state
 * machine under the interpreter; EventBridge with the template's rules; every call recorded and checked against the
 * caller's policies.
 */
export class PipelineWorld {
  readonly log: AwsCallLog;
  readonly limits: AwsLimits;
  readonly s3: FakeS3;
  readonly lambdas = new LambdaService();
  readonly events: FakeEventBridge;
  readonly sfn: StepFunctionsService;
  readonly machine: DeployedStateMachine;
  /** The run bucket (snapshots and run files). */
  readonly bucket: string;
  /** The refunds and runs tables, as finance reads them (not recorded). */
  readonly store: DynamoDbRefundStore;
  private readonly operator: Principal;

  constructor(
    readonly stack: DeployedStack,
    options: WorldOptions = {},
  ) {
    const { template, db } = stack;
    this.limits = { ...AWS_LIMITS, ...options.limits };
    this.log = new AwsCallLog(new IamPolicies(template), options.enforcement ?? "deny");
    this.bucket = template.physicalName(template.logicalId("RunBucket", "AWS::S3::Bucket"));
    this.s3 = new FakeS3(
      this.log,
      template.ofType("AWS::S3::Bucket").map((id) => template.physicalName(id)),
      this.limits,
    );
    this.events = new FakeEventBridge(template, this.log, this.lambdas, this.limits);
    this.sfn = new StepFunctionsService({
      template,
      log: this.log,
      lambdas: this.lambdas,
      s3: this.s3,
      events: this.events,
      limits: this.limits,
    });
    this.machine = this.sfn.deploy("RunPipelineStateMachine", options.change);
    for (const fn of template.functions()) {
      const source = SOURCES.find((s) => fn.logicalId.startsWith(s.prefix));
      if (!source) continue; // publish-events: fed by the table's stream, not part of a run
      const exportName = fn.handler.replace(/^index\./, "");
      const factory = source.factories[exportName];
      if (!factory || typeof source.module[exportName] !== "function")
        throw new Error(`${fn.logicalId}: Handler ${fn.handler} is not an export the harness knows of its source`);
      this.lambdas.register(fn, factory(this.depsOf(fn)));
    }
    const startRunFn = template.functions().find((f) => f.logicalId.startsWith("FinanceApiStartRunFunction"));
    this.operator = { roleId: startRunFn?.roleId ?? "", actor: "test (as start-run's role)" };
    this.store = new DynamoDbRefundStore(db.client, {
      refunds: template.physicalName(template.logicalId("RefundsTable", "AWS::DynamoDB::Table")),
      runs: template.physicalName(template.logicalId("RunsTable", "AWS::DynamoDB::Table")),
    });
  }

  private depsOf(fn: DeployedFunction): FunctionDeps {
    const principal: Principal = { roleId: fn.roleId, actor: fn.logicalId };
    let store: DynamoDbRefundStore | undefined;
    let s3: ReturnType<FakeS3["clientFor"]> | undefined;
    const storeOf = () => {
      store ??= new DynamoDbRefundStore(recordingDynamoDbClient(this.stack.db.endpoint, principal, this.log), {
        refunds: required(fn, "REFUNDS_TABLE"),
        runs: required(fn, "RUNS_TABLE"),
      });
      return store;
    };
    const s3Of = () => {
      s3 ??= this.s3.clientFor(principal);
      return s3;
    };
    let runDeps: RunDeps | undefined;
    let startRunDeps: startRun.StartRunDeps | undefined;
    return {
      env: fn.environment,
      store: storeOf,
      runDeps: () => {
        // As runDepsFromEnvironment builds them: the one DynamoDB store keeps runs and proposals.
        runDeps ??= s3RunDeps(storeOf(), s3Of(), required(fn, "WORK_BUCKET"), storeOf());
        return runDeps;
      },
      startRunDeps: () => {
        // As start-run's depsFromEnvironment builds them: snapshots and run files share the run bucket.
        const bucket = required(fn, "SNAPSHOT_BUCKET");
        startRunDeps ??= {
          store: storeOf(),
          s3: s3Of(),
          filesOf: (ref) => new S3RunFiles(s3Of(), bucket, runPrefix(ref)),
          sfn: this.sfn.clientFor(principal),
          stateMachineArn: required(fn, "STATE_MACHINE_ARN"),
          snapshotBucket: bucket,
        };
        return startRunDeps;
      },
    };
  }

  /** Finance uploads a snapshot (not a run's call: not recorded); returns its version. */
  putSnapshot(key: string, csv: string): { key: string; versionId: string } {
    return { key, versionId: this.s3.put(this.bucket, key, csv) };
  }

  /** `POST /incidents/{incidentId}/runs` through API Gateway to start-run, as `caller`. */
  async postRun(incidentId: string, body: unknown, caller = "arn:aws:iam::123456789012:user/finance") {
    const fn = this.lambdas.find(this.functionArn("FinanceApiStartRunFunction"));
    const event = {
      httpMethod: "POST",
      path: `/incidents/${incidentId}/runs`,
      pathParameters: { incidentId },
      body: JSON.stringify(body),
      requestContext: { identity: { userArn: caller, caller } },
    } as unknown as APIGatewayProxyEvent;
    const answer = await this.lambdas.invoke(fn.fn.arn, event);
    if (!answer.ok)
      return { statusCode: 502, body: { message: `${answer.error.errorType}: ${answer.error.errorMessage}` } };
    const result = answer.payload as APIGatewayProxyResult;
    return { statusCode: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown> };
  }

  /**
   * A request through API Gateway (IAM auth) to the function of the template whose logical id starts with `prefix`,
   * as the IAM principal `caller`.
   */
  async api(
    prefix: string,
    request: { method: "GET" | "POST"; path: string; pathParameters: Record<string, string>; body?: unknown },
    caller: string,
  ) {
    const fn = this.lambdas.find(this.functionArn(prefix));
    const event = {
      httpMethod: request.method,
      path: request.path,
      pathParameters: request.pathParameters,
      body: request.body === undefined ? null : JSON.stringify(request.body),
      requestContext: { identity: { userArn: caller, caller } },
    } as unknown as APIGatewayProxyEvent;
    const answer = await this.lambdas.invoke(fn.fn.arn, event);
    if (!answer.ok)
      return { statusCode: 502, body: { message: `${answer.error.errorType}: ${answer.error.errorMessage}` } };
    const result = answer.payload as APIGatewayProxyResult;
    return { statusCode: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown> };
  }

  /**
   * The input start-run gives an execution (the incident left among the run's files, by reference), for a test that
   * starts the state machine itself, with a batch size below the API's minimum.
   */
  executionInput(
    incident: { incidentId: string },
    snapshot: { key: string; versionId?: string },
    extra: Partial<ExecutionInput> = {},
  ): ExecutionInput {
    const requestId = extra.requestId ?? "req-1";
    const runId = runIdOf(incident.incidentId, requestId);
    const text = startRun.canonicalJson(incident);
    const key = `${runPrefix({ incidentId: incident.incidentId, runId })}${INCIDENT_FILE}`;
    this.s3.put(this.bucket, key, text);
    return {
      incidentId: incident.incidentId,
      runId,
      requestId,
      requestedBy: "arn:aws:iam::123456789012:user/finance",
      reason: "state machine test",
      dryRun: false,
      batchSize: 2,
      incidentDigest: sha256(text),
      incident: { bucket: this.bucket, key, sha256: sha256(text) },
      snapshot: { bucket: this.bucket, ...snapshot },
      ...extra,
    };
  }

  /** StartExecution of the state machine (as start-run's role), named by the run id; returns the execution's ARN. */
  startExecution(input: ExecutionInput, name: string = input.runId): string {
    return this.sfn.startExecution(this.operator, {
      stateMachineArn: this.machine.arn,
      name,
      input: JSON.stringify(input),
    }).executionArn;
  }

  executionArn(name: string): string {
    return `${this.machine.arn.replace(":stateMachine:", ":execution:")}:${name}`;
  }

  /** The execution named `name`, once ended, and everything it set going (in-flight Lambdas, rule targets) ended too. */
  async finished(name: string): Promise<AslExecution> {
    const execution = await this.sfn.result(this.executionArn(name));
    await this.sfn.settled();
    return execution;
  }

  functionArn(prefix: string): string {
    const fn = this.stack.template.functions().find((f) => f.logicalId.startsWith(prefix));
    if (!fn) throw new Error(`no function ${prefix}`);
    return fn.arn;
  }

  async run(incidentId: string, runId: string): Promise<RunRecord | undefined> {
    return this.store.getRun(incidentId, runId);
  }
}
