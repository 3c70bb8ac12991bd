import { Aws, type CfnElement, Duration, type RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { type Alarm, MathExpression, Metric } from "aws-cdk-lib/aws-cloudwatch";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Bucket, IBucket } from "aws-cdk-lib/aws-s3";
import {
  Choice,
  Condition,
  CsvHeaders,
  DefinitionBody,
  DistributedMap,
  type DistributedMapProps,
  Fail,
  Map as InlineMap,
  ItemBatcher,
  JitterType,
  JsonPath,
  LogLevel,
  type QueryLanguage,
  S3CsvItemReader,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  type TaskStateBase,
} from "aws-cdk-lib/aws-stepfunctions";
import { LambdaInvoke } from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import { KEYS } from "../../functions/commons/dynamodb/line-item";
import { permanentErrorNames } from "../../shared/pipeline/permanent-errors";
import { SLICES_PER_CHILD } from "../../shared/pipeline/run-steps";
import { acknowledgeWildcard, arnOf } from "../nag";
import { alarmAbove } from "./alarms";
import { HiwariFunction } from "./hiwari-function";
import { MAP_RESULTS_PREFIX, RUNS_PREFIX, SNAPSHOTS_PREFIX } from "./run-bucket";
import { FINALIZE_CONCURRENCY, MAP_CONCURRENCY, RUN_FUNCTION_SIZES } from "./run-function-sizes";

export interface RunPipelineProps {
  readonly refunds: Table;
  readonly runs: Table;
  readonly bucket: Bucket;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Child executions of the Map at once (see docs/scale.md for the figure). */
  readonly mapConcurrency?: number;
  /** Manifest rows (slices of `batchSize` rows) per child execution. */
  readonly slicesPerChild?: number;
}

/**
 * Errors that retrying cannot mend, by name: the run fails at once and says why (a bad snapshot, a lock held by another
 * run, a request reused with other inputs, a snapshot changed under the run, a lost lock, a race with another
 * writer, rows that do not add up, an item the store refuses, an event that fails its schema). Derived from the code:
 * every error class extending `PermanentError`, and zod's `ZodError` (shared/pipeline/permanent-errors.ts).
 * Everything else (throttling, timeouts, Lambda's own errors) is retried with backoff and jitter.
 */
export const PERMANENT_ERRORS = permanentErrorNames();

/**
 * The run: prepare, Distributed Map over the manifest of slices (compute-batch per child), an inline Map over
 * the 64 shards (finalize-run), complete-run; any failure, fail-run (recorded on the run, lock released).
 */
export class RunPipeline extends Construct {
  readonly stateMachine: StateMachine;
  readonly prepare: HiwariFunction;
  readonly computeBatch: HiwariFunction;
  readonly finalizeShard: HiwariFunction;
  readonly complete: HiwariFunction;
  readonly fail: HiwariFunction;
  readonly failedRunsAlarm: Alarm;
  /** A run applying an approved proposal completed otherwise than its preview (complete-run's metric). */
  readonly proposalsNotReproducedAlarm: Alarm;

  constructor(scope: Construct, id: string, props: RunPipelineProps) {
    super(scope, id);
    const { refunds, runs, bucket } = props;
    const environment = {
      REFUNDS_TABLE: refunds.tableName,
      RUNS_TABLE: runs.tableName,
      WORK_BUCKET: bucket.bucketName,
    };
    const common = { environment, logRetention: props.logRetention, removalPolicy: props.removalPolicy };
    const fn = (
      id: string,
      handler: string,
      entry: string,
      description: string,
      size: { memoryMB: number; timeoutSeconds: number },
    ) =>
      new HiwariFunction(this, id, {
        ...common,
        entry,
        handler,
        description,
        timeout: Duration.seconds(size.timeoutSeconds),
        memorySize: size.memoryMB,
      });

    const sizes = RUN_FUNCTION_SIZES;
    this.prepare = fn(
      "PrepareRun",
      "handler",
      "prepare-run/handler.ts",
      "hiwari prepare-run: survey the snapshot, lock and record the run",
      sizes.prepare,
    );
    this.computeBatch = fn(
      "ComputeBatch",
      "handler",
      "compute-batch/handler.ts",
      "hiwari compute-batch: slices of the snapshot, refund lines",
      sizes.batch,
    );
    this.finalizeShard = fn(
      "FinalizeRun",
      "shardHandler",
      "finalize-run/handler.ts",
      "hiwari finalize-run: voids and goodwill of one shard",
      sizes.finalize,
    );
    this.complete = fn(
      "CompleteRun",
      "completeHandler",
      "finalize-run/handler.ts",
      "hiwari complete-run: totals, run record, lock release",
      sizes.complete,
    );
    this.fail = fn(
      "FailRun",
      "failHandler",
      "finalize-run/handler.ts",
      "hiwari fail-run: record a run's failure, release its lock",
      sizes.fail,
    );

    // Least privilege: each function gets the calls it makes, on the resources it makes them on.
    const runFiles = bucket.arnForObjects(`${RUNS_PREFIX}*`);
    const gsi = `${refunds.tableArn}/index/${KEYS.gsi1}`;
    this.prepare
      .allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], [runs.tableArn])
      .allowObjects(["s3:GetObject", "s3:GetObjectVersion"], bucket, SNAPSHOTS_PREFIX)
      .allowObjects(["s3:GetObject", "s3:PutObject"], bucket, RUNS_PREFIX);
    // A batch and a shard read the lease before renewing it (GetItem) and the builds noted before noting theirs (Query).
    this.computeBatch
      .allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchWriteItem"], [runs.tableArn])
      .allow(["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"], [refunds.tableArn])
      .allowObjects(["s3:GetObject", "s3:GetObjectVersion"], bucket, SNAPSHOTS_PREFIX)
      .allowObjects(["s3:GetObject", "s3:PutObject"], bucket, RUNS_PREFIX);
    this.finalizeShard
      .allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], [runs.tableArn])
      .allow(["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"], [refunds.tableArn])
      .allow(["dynamodb:Query"], [gsi])
      // A dry run's changes in a shard are a multipart upload once past a part, aborted if it fails.
      .allowObjects(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], bucket, RUNS_PREFIX);
    this.complete
      .allow(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"], [runs.tableArn])
      .allow(["dynamodb:PutItem"], [refunds.tableArn])
      // The reject report is a multipart upload, aborted if it fails.
      .allowObjects(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], bucket, RUNS_PREFIX);
    this.fail.allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], [runs.tableArn]);

    // Recording the failure is retried too: a run left `running` would hold its incident until the lease ran out.
    const failRun = this.retried(
      this.invoke("RecordFailure", this.fail, {
        "incidentId.$": "$.incidentId",
        "runId.$": "$.runId",
        "error.$": "$.error",
      }),
    ).next(
      new Fail(this, "RunFailed", { comment: "the run's error is on its record (GET /incidents/{id}/runs/{runId})" }),
    );

    const prepare = this.invoke("Prepare", this.prepare, JsonPath.entirePayload, "$.prepared");
    // Prepare surveys the whole snapshot in one invocation: a survey that ran out of time would again, so a timeout is
    // not retried, and anything else at most twice (a retried prepare resumes the same run: its lock, its record).
    prepare.addRetry({ errors: PERMANENT_ERRORS, maxAttempts: 0 });
    prepare.addRetry({ errors: ["Sandbox.Timedout", "States.Timeout"], maxAttempts: 0 });
    prepare.addRetry({
      errors: ["States.ALL"],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 2,
      jitterStrategy: JitterType.FULL,
    });

    const computeBatches = new DistributedMapWithResults(this, "ComputeBatches", {
      // The children's results go to S3, never into the state: 36,000 children's results would pass 256 KiB.
      resultsBucket: bucket,
      resultsPrefix: MAP_RESULTS_PREFIX,
      comment:
        "one child per few slices of the snapshot; any failed child fails the run before finalize voids anything",
      label: "ComputeBatches",
      // The manifest prepare wrote: one row per slice (batchNo, firstLine, start, end, rows, sha256), header first.
      itemReader: new S3CsvItemReader({
        bucketNamePath: JsonPath.stringAt("$.prepared.manifest.bucket"),
        key: JsonPath.stringAt("$.prepared.manifest.key"),
        csvHeaders: CsvHeaders.useFirstRow(),
      }),
      itemBatcher: new ItemBatcher({
        maxItemsPerBatch: props.slicesPerChild ?? SLICES_PER_CHILD,
        batchInput: {
          "incidentId.$": "$.incidentId",
          "runId.$": "$.runId",
          "snapshot.$": "$.snapshot",
        },
      }),
      maxConcurrency: props.mapConcurrency ?? MAP_CONCURRENCY,
      // Zero: a batch that failed after its retries leaves lines unproduced, and finalize would void them.
      toleratedFailurePercentage: 0,
      // STANDARD children: a child may retry a throttled batch for as long as its backoff needs (an EXPRESS child
      // ends at 5 minutes, retries included: two attempts of a 2-minute batch). docs/scale.md has the cost.
      mapExecutionType: StateMachineType.STANDARD,
      resultPath: JsonPath.DISCARD,
    });
    // A child that failed after its retries records its own error and batches on the run (the Map itself only says
    // States.ExceedToleratedFailureThreshold), then fails with that very error.
    const recordBatchFailure = this.retried(
      this.invoke(
        "RecordBatchFailure",
        this.fail,
        {
          "incidentId.$": "$.BatchInput.incidentId",
          "runId.$": "$.BatchInput.runId",
          "items.$": "$.Items",
          "error.$": "$.error",
        },
        JsonPath.DISCARD,
      ),
    ).next(
      new Fail(this, "BatchFailed", {
        comment: "the child's own error, recorded on the run by RecordBatchFailure",
        errorPath: JsonPath.stringAt("$.error.Error"),
        causePath: JsonPath.stringAt("$.error.Cause"),
      }),
    );
    // A child's output is dropped (OutputPath null): nothing of it needs to reach the Map's results.
    const compute = this.retried(
      this.invoke("Compute", this.computeBatch, JsonPath.entirePayload, undefined, JsonPath.DISCARD),
    );
    compute.addCatch(recordBatchFailure, { errors: ["States.ALL"], resultPath: "$.error" });
    computeBatches.itemProcessor(compute);

    const finalizeShards = new InlineMap(this, "FinalizeShards", {
      comment: "voids, goodwill and totals, one shard of the incident's lines at a time",
      itemsPath: "$.prepared.shards",
      itemSelector: {
        "incidentId.$": "$.incidentId",
        "runId.$": "$.runId",
        "shard.$": "$$.Map.Item.Value",
      },
      maxConcurrency: FINALIZE_CONCURRENCY,
      // Each shard leaves its totals in the run's files for complete: nothing of them needs to stay in the state.
      resultPath: JsonPath.DISCARD,
    });
    finalizeShards.itemProcessor(this.retried(this.invoke("Finalize", this.finalizeShard, JsonPath.entirePayload)));

    const complete = this.retried(
      this.invoke("Complete", this.complete, {
        "incidentId.$": "$.incidentId",
        "runId.$": "$.runId",
      }),
    );

    const catchAll = <T extends TaskStateBase | DistributedMap | InlineMap>(state: T): T => {
      state.addCatch(failRun, { errors: ["States.ALL"], resultPath: "$.error" });
      return state;
    };
    const definition = catchAll(prepare).next(
      new Choice(this, "AlreadyCompleted?")
        .when(
          Condition.stringEquals("$.prepared.status", "already-completed"),
          new Succeed(this, "NothingToRun", { comment: "this request's run completed before" }),
        )
        .otherwise(catchAll(computeBatches).next(catchAll(finalizeShards)).next(catchAll(complete))),
    );

    // Under /aws/vendedlogs/: Step Functions' log delivery writes there without a resource policy per group (AWS
    // allows 5,120 characters of CloudWatch Logs resource policy per region, which named groups elsewhere fill up).
    const logs = new LogGroup(this, "StateMachineLogs", {
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-runs`,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new StateMachine(this, "StateMachine", {
      comment: "hiwari refund run: prepare, compute batches, finalize shards, complete",
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(definition),
      tracingEnabled: true,
      logs: { destination: logs, level: LogLevel.ERROR, includeExecutionData: false },
      timeout: Duration.hours(24),
    });
    // The Map's item reader reads the manifest prepare wrote, and nothing else of the bucket; its result writer writes
    // under MAP_RESULTS_PREFIX only (CDK's own ResultWriter would grant these on every object of the bucket).
    this.stateMachine.addToRolePolicy(new PolicyStatement({ actions: ["s3:GetObject"], resources: [runFiles] }));
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
        resources: [bucket.arnForObjects(`${MAP_RESULTS_PREFIX}/*`)],
      }),
    );
    const role = this.stateMachine.role;
    acknowledgeWildcard(
      role,
      `${arnOf(bucket)}/${RUNS_PREFIX}*`,
      "the Map's item reader reads the manifest among the run files",
    );
    acknowledgeWildcard(
      role,
      `${arnOf(bucket)}/${MAP_RESULTS_PREFIX}/*`,
      "the Map's result writer writes its children's results (one folder per map run, named by Step Functions)",
    );
    acknowledgeWildcard(role, "*", "xray:PutTraceSegments and friends (tracing) support no resource-level permission");
    for (const f of [this.prepare, this.computeBatch, this.finalizeShard, this.complete, this.fail])
      acknowledgeWildcard(
        role,
        `${arnOf(f.fn)}:*`,
        "CDK's LambdaInvoke grant: the task's own function and its versions",
      );
    // The Distributed Map runs its children as executions of this very state machine (CDK's own policy).
    const self = `{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${Stack.of(this).getLogicalId(this.stateMachine.node.defaultChild as CfnElement)}"}]}]}`;
    const executions = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution";
    for (const resource of [`${executions}:${self}:*`, `${executions}:${self}/ComputeBatches:*`])
      acknowledgeWildcard(this.stateMachine, resource, "the Distributed Map's child executions of this state machine");

    this.proposalsNotReproducedAlarm = alarmAbove(this, "ProposalsNotReproducedAlarm", {
      description:
        "a run applying an approved proposal did not reproduce its preview; its changes stand: see docs/operations.md",
      metric: new Metric({
        namespace: "hiwari",
        metricName: "ProposalsNotReproduced",
        dimensionsMap: { service: "hiwari" },
        statistic: "Sum",
        period: Duration.minutes(5),
      }),
    });
    this.failedRunsAlarm = alarmAbove(this, "FailedRunsAlarm", {
      description:
        "a refund run failed, timed out or was stopped: its error is on the run record; see docs/operations.md",
      metric: new MathExpression({
        expression: "failed + timedOut + aborted",
        usingMetrics: {
          failed: this.stateMachine.metricFailed(),
          timedOut: this.stateMachine.metricTimedOut(),
          aborted: this.stateMachine.metricAborted(),
        },
        period: Duration.minutes(5),
      }),
    });
    // An execution that times out or is stopped runs no Catch, nor does one that fails where no Catch applies
    // (States.DataLimitExceeded, States.Runtime): a rule on its status change records the failure. A failure the
    // Catch recorded already is left as it was (fail-run keeps the first error).
    new Rule(this, "EndedWithoutCatch", {
      description:
        "hiwari runs that failed, timed out or were stopped: record the failure on the run, give up the lock",
      eventPattern: {
        source: ["aws.states"],
        detailType: ["Step Functions Execution Status Change"],
        detail: { status: ["FAILED", "TIMED_OUT", "ABORTED"], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [new LambdaFunction(this.fail.fn, { retryAttempts: 185, maxEventAge: Duration.hours(24) })],
    });
    Validations.of(this.stateMachine).acknowledge({
      id: "AwsSolutions::AwsSolutions-SF1",
      reason: "Errors are logged (level ERROR); logging every event of 36,000 child executions would only add cost.",
    });
  }

  private invoke(
    id: string,
    target: HiwariFunction,
    payload: Record<string, string> | string,
    resultPath?: string,
    outputPath?: string,
  ) {
    return new LambdaInvoke(this, id, {
      lambdaFunction: target.fn,
      payloadResponseOnly: true,
      ...(typeof payload === "string" ? {} : { payload: TaskInput.fromObject(payload) }),
      ...(resultPath ? { resultPath } : {}),
      ...(outputPath !== undefined ? { outputPath } : {}),
      retryOnServiceExceptions: false,
    });
  }

  /** No retry for what retrying cannot mend; up to 6 attempts with backoff and full jitter for the rest. */
  private retried<T extends TaskStateBase>(task: T): T {
    task.addRetry({ errors: PERMANENT_ERRORS, maxAttempts: 0 });
    task.addRetry({
      errors: ["States.ALL"],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.minutes(1),
      jitterStrategy: JitterType.FULL,
    });
    return task;
  }
}

interface DistributedMapWithResultsProps extends DistributedMapProps {
  readonly resultsBucket: IBucket;
  readonly resultsPrefix: string;
}

/**
 * A Distributed Map whose ResultWriter writes the children's results to `resultsBucket` under `resultsPrefix`
 * (`<prefix>/<map run id>/manifest.json`, `SUCCEEDED_0.json`, `FAILED_0.json`, …), and whose output is then only
 * where they are. CDK's own `ResultWriterV2` renders the same ASL but grants its S3 actions on every object of the
 * bucket; here the caller grants them on the prefix alone.
 */
class DistributedMapWithResults extends DistributedMap {
  private readonly results: { Bucket: string; Prefix: string };

  constructor(scope: Construct, id: string, props: DistributedMapWithResultsProps) {
    const { resultsBucket, resultsPrefix, ...rest } = props;
    super(scope, id, rest);
    this.results = { Bucket: resultsBucket.bucketName, Prefix: resultsPrefix };
  }

  override toStateJson(queryLanguage?: QueryLanguage): object {
    return {
      ...super.toStateJson(queryLanguage),
      ResultWriter: { Resource: `arn:${Aws.PARTITION}:states:::s3:putObject`, Parameters: this.results },
    };
  }
}
