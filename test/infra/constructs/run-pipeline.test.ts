import aslValidator from "asl-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { DRAIN_MS } from "../../../functions/finalize-run/handler";
import { PERMANENT_ERRORS } from "../../../infra/constructs/run-pipeline";
import { PermanentError } from "../../../shared/errors";
import { LOCK_LEASE_MS } from "../../../shared/pipeline/prepare-run";
import { hiwariErrorClasses } from "../../helpers/error-classes";
import { grantsOf, logicalId, render, synthApp } from "../template-helpers";

let app: ReturnType<typeof synthApp>;
let definition: { StartAt: string; States: Record<string, Record<string, unknown>> };
beforeAll(() => {
  app = synthApp("prod");
  const [machine] = Object.values(app.template.findResources("AWS::StepFunctions::StateMachine")) as {
    Properties: { DefinitionString: unknown };
  }[];
  // The definition with every CloudFormation reference rendered as text (function ARNs as `Fn.Arn`).
  definition = JSON.parse(render(machine?.Properties.DefinitionString));
});
afterAll(() => app?.dispose());

const lambdaResource = (prefix: string) => `${prefix}Function.Arn`;
/** The states inside a Map's item processor. */
const processorOf = (map: string) =>
  (definition.States[map]?.ItemProcessor as { States: Record<string, unknown> } | undefined)?.States ?? {};

describe("RunPipeline: the state machine", () => {
  it("is valid Amazon States Language", () => {
    // Function ARNs stand in as real-looking ARNs: the validator checks Task resources are ARNs.
    const text = JSON.stringify(definition).replace(
      /"[A-Za-z]+Function\.Arn"/g,
      '"arn:aws:lambda:ap-northeast-1:123456789012:function:f"',
    );
    const { isValid, errors } = aslValidator(JSON.parse(text.replaceAll("<AWS::Partition>", "aws")));
    expect(errors).toEqual([]);
    expect(isValid).toBe(true);
  });

  it("runs prepare, then (unless the request completed before) the batches, the shards and complete", () => {
    expect(definition.StartAt).toBe("Prepare");
    expect(definition.States.Prepare).toMatchObject({
      Type: "Task",
      Resource: lambdaResource("RunPipelinePrepareRun"),
      ResultPath: "$.prepared",
      Next: "AlreadyCompleted?",
    });
    expect(definition.States["AlreadyCompleted?"]).toEqual({
      Type: "Choice",
      Choices: [{ Variable: "$.prepared.status", StringEquals: "already-completed", Next: "NothingToRun" }],
      Default: "ComputeBatches",
    });
    expect(definition.States.ComputeBatches?.Next).toBe("FinalizeShards");
    expect(definition.States.FinalizeShards?.Next).toBe("Complete");
    expect(definition.States.Complete).toMatchObject({ End: true, Resource: lambdaResource("RunPipelineCompleteRun") });
  });

  it("maps over the manifest in S3 with the CSV item reader: DISTRIBUTED, batched, bounded, zero failures tolerated", () => {
    const map = definition.States.ComputeBatches as Record<string, unknown>;
    expect(map).toMatchObject({
      Type: "Map",
      Label: "ComputeBatches",
      ItemProcessor: {
        // STANDARD children: a child's retries may take as long as throttling lasts (an EXPRESS child stops at 5 min).
        ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
        States: { Compute: { Type: "Task", Resource: lambdaResource("RunPipelineComputeBatch"), End: true } },
      },
      ItemReader: {
        Resource: "arn:<AWS::Partition>:states:::s3:getObject",
        ReaderConfig: { InputType: "CSV", CSVHeaderLocation: "FIRST_ROW" },
        Parameters: { "Bucket.$": "$.prepared.manifest.bucket", "Key.$": "$.prepared.manifest.key" },
      },
      ItemBatcher: {
        MaxItemsPerBatch: 4,
        BatchInput: { "incidentId.$": "$.incidentId", "runId.$": "$.runId", "snapshot.$": "$.snapshot" },
      },
      MaxConcurrency: 8,
      // Children's results go to S3 (36,000 of them would pass the 256 KiB state limit), and the Map's output
      // (where they are) is not kept either.
      ResultWriter: {
        Resource: "arn:<AWS::Partition>:states:::s3:putObject",
        Parameters: { Bucket: "RunBucket", Prefix: "runs/map-results" },
      },
      ResultPath: null,
    });
    // Zero tolerated failures: ASL's default, which CDK leaves out rather than write 0; no threshold is set above it.
    expect(map.ToleratedFailurePercentage ?? 0).toBe(0);
    expect(map.ToleratedFailureCount ?? 0).toBe(0);
  });

  it("finalizes the 64 shards 16 at a time; their totals go through the run's files, not the state", () => {
    expect(definition.States.FinalizeShards).toMatchObject({
      Type: "Map",
      ItemsPath: "$.prepared.shards",
      ItemSelector: { "incidentId.$": "$.incidentId", "runId.$": "$.runId", "shard.$": "$$.Map.Item.Value" },
      MaxConcurrency: 16,
      ResultPath: null,
      ItemProcessor: { ProcessorConfig: { Mode: "INLINE" } },
    });
    expect(definition.States.Complete?.Parameters).toEqual({ "incidentId.$": "$.incidentId", "runId.$": "$.runId" });
    // Nor do the Map's children keep theirs: each child's output is dropped.
    expect(processorOf("ComputeBatches").Compute).toMatchObject({ OutputPath: null });
  });

  it("retries what may pass (backoff, full jitter) but never what cannot, and records any failure on the run", () => {
    const tasks = [
      definition.States.RecordFailure,
      processorOf("ComputeBatches").Compute,
      processorOf("ComputeBatches").RecordBatchFailure,
      processorOf("FinalizeShards").Finalize,
      definition.States.Complete,
    ];
    for (const task of tasks)
      expect((task as { Retry: unknown }).Retry).toEqual([
        { ErrorEquals: PERMANENT_ERRORS, MaxAttempts: 0 },
        {
          ErrorEquals: ["States.ALL"],
          IntervalSeconds: 2,
          MaxAttempts: 6,
          BackoffRate: 2,
          MaxDelaySeconds: 60,
          JitterStrategy: "FULL",
        },
      ]);
    // Prepare surveys the whole snapshot: a timeout would come again, and anything else is retried twice at most.
    expect(definition.States.Prepare?.Retry).toEqual([
      { ErrorEquals: PERMANENT_ERRORS, MaxAttempts: 0 },
      { ErrorEquals: ["Sandbox.Timedout", "States.Timeout"], MaxAttempts: 0 },
      { ErrorEquals: ["States.ALL"], IntervalSeconds: 5, MaxAttempts: 2, BackoffRate: 2, JitterStrategy: "FULL" },
    ]);
    for (const state of ["Prepare", "ComputeBatches", "FinalizeShards", "Complete"])
      expect(definition.States[state]?.Catch).toEqual([
        { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "RecordFailure" },
      ]);
    // A child that failed records its own error and batches on the run, then fails with that very error.
    expect(processorOf("ComputeBatches").Compute).toMatchObject({
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "RecordBatchFailure" }],
    });
    expect(processorOf("ComputeBatches").RecordBatchFailure).toMatchObject({
      Resource: lambdaResource("RunPipelineFailRun"),
      Parameters: {
        "incidentId.$": "$.BatchInput.incidentId",
        "runId.$": "$.BatchInput.runId",
        "items.$": "$.Items",
        "error.$": "$.error",
      },
      ResultPath: null,
      Next: "BatchFailed",
    });
    expect(processorOf("ComputeBatches").BatchFailed).toMatchObject({
      Type: "Fail",
      ErrorPath: "$.error.Error",
      CausePath: "$.error.Cause",
    });
    expect(definition.States.RecordFailure).toMatchObject({
      Resource: lambdaResource("RunPipelineFailRun"),
      Parameters: { "incidentId.$": "$.incidentId", "runId.$": "$.runId", "error.$": "$.error" },
      Next: "RunFailed",
    });
    expect(definition.States.RunFailed?.Type).toBe("Fail");
  });

  it("fails at once, without retries, on every error of the code that retrying cannot mend, and on ZodError", () => {
    const permanent = hiwariErrorClasses()
      .filter((e) => e.cls.prototype instanceof PermanentError)
      .map((e) => e.cls.name);
    const retry = definition.States.Prepare?.Retry as { ErrorEquals: string[] }[];

    expect(permanent.length).toBeGreaterThan(15);
    expect([...(retry[0]?.ErrorEquals ?? [])].sort()).toEqual([...permanent, new z.ZodError([]).name].sort());
  });

  it("is a STANDARD state machine with tracing, error logs, a 24 h limit, and an alarm on failed runs", () => {
    app.template.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      StateMachineType: "STANDARD",
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: "ERROR", IncludeExecutionData: false },
    });
    // Under /aws/vendedlogs/, where log delivery needs no resource policy per group (their size is capped per region).
    app.template.hasResourceProperties("AWS::Logs::LogGroup", {
      LogGroupName: "/aws/vendedlogs/states/hiwari-prod-runs",
    });
    expect(JSON.stringify(definition)).toContain('"TimeoutSeconds":86400');
    const machine = logicalId(app.template, "RunPipelineStateMachine");
    const alarm = Object.values(app.template.findResources("AWS::CloudWatch::Alarm")).find((a) =>
      (a as { Properties: { AlarmDescription?: string } }).Properties.AlarmDescription?.startsWith(
        "a refund run failed",
      ),
    ) as {
      Properties: { Metrics: { Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string } } }[] };
    };
    expect(alarm.Properties.Metrics.map((m) => m.Expression ?? m.MetricStat?.Metric.MetricName).sort()).toEqual([
      "ExecutionsAborted",
      "ExecutionsFailed",
      "ExecutionsTimedOut",
      "failed + timedOut + aborted",
    ]);
    // Timed out, stopped or uncaught failed executions run no Catch: a rule sends their status change to fail-run.
    app.template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        source: ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        detail: { status: ["FAILED", "TIMED_OUT", "ABORTED"], stateMachineArn: [{ Ref: machine }] },
      },
      Targets: [
        {
          Id: "Target0",
          Arn: { "Fn::GetAtt": [logicalId(app.template, "RunPipelineFailRunFunction"), "Arn"] },
          RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
        },
      ],
    });
  });
});

describe("RunPipeline: each function, and exactly what it may do", () => {
  const fn = (prefix: string) => {
    const [props] = Object.entries(app.template.findResources("AWS::Lambda::Function"))
      .filter(([id]) => id.startsWith(`${prefix}Function`))
      .map(([, r]) => (r as { Properties: Record<string, unknown> }).Properties);
    return props as Record<string, unknown>;
  };
  const logs = (prefix: string) => [
    `Allow logs:CreateLogStream on ${prefix}Logs.Arn`,
    `Allow logs:PutLogEvents on ${prefix}Logs.Arn`,
    "Allow xray:PutTelemetryRecords on *",
    "Allow xray:PutTraceSegments on *",
  ];
  const allow = (actions: string[], resource: string) => actions.map((a) => `Allow ${a} on ${resource}`);
  const grants = (...groups: string[][]) => groups.flat().sort();

  it("sizes each function for its step: ARM64, nodejs22.x, traced, limits within the Map's and Lambda's", () => {
    for (const [prefix, timeout, memory] of [
      ["RunPipelinePrepareRun", 900, 4096],
      ["RunPipelineComputeBatch", 120, 1024],
      ["RunPipelineFinalizeRun", 900, 2048],
      ["RunPipelineCompleteRun", 300, 1024],
      ["RunPipelineFailRun", 300, 256],
    ] as const)
      expect(fn(prefix)).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Timeout: timeout,
        MemorySize: memory,
        TracingConfig: { Mode: "Active" },
      });
    // A failed run holds its lock until every invocation that may still be writing has reached its time limit.
    for (const prefix of ["RunPipelineComputeBatch", "RunPipelineFinalizeRun", "RunPipelineCompleteRun"])
      expect(DRAIN_MS).toBeGreaterThan((fn(prefix).Timeout as number) * 1000);
    // A step that renews the lock as it begins holds it (renewLock: at least the lease asked) to its time limit.
    for (const prefix of ["RunPipelineComputeBatch", "RunPipelineFinalizeRun"])
      expect(LOCK_LEASE_MS).toBeGreaterThanOrEqual((fn(prefix).Timeout as number) * 1000);
    expect(fn("RunPipelineFinalizeRun").Handler).toBe("index.shardHandler");
    expect(fn("RunPipelineCompleteRun").Handler).toBe("index.completeHandler");
    expect(fn("RunPipelineFailRun").Handler).toBe("index.failHandler");
  });

  it("prepare-run: the run record and lock, the snapshots (read), the run files (write)", () => {
    expect(grantsOf(app.template, "RunPipelinePrepareRunRole")).toEqual(
      grants(
        logs("RunPipelinePrepareRun"),
        allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], "RunsTable.Arn"),
        allow(["s3:GetObject", "s3:GetObjectVersion"], "RunBucket.Arn/snapshots/*"),
        allow(["s3:GetObject", "s3:PutObject"], "RunBucket.Arn/runs/*"),
      ),
    );
  });

  it("compute-batch: lines read and written, batch records, builds noted and lock renewal, the snapshots and run files", () => {
    expect(grantsOf(app.template, "RunPipelineComputeBatchRole")).toEqual(
      grants(
        logs("RunPipelineComputeBatch"),
        allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchWriteItem"], "RunsTable.Arn"),
        allow(["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"], "RefundsTable.Arn"),
        allow(["s3:GetObject", "s3:GetObjectVersion"], "RunBucket.Arn/snapshots/*"),
        allow(["s3:GetObject", "s3:PutObject"], "RunBucket.Arn/runs/*"),
      ),
    );
  });

  it("finalize-run: the shard's books, the index query, voids and goodwill; no snapshot", () => {
    expect(grantsOf(app.template, "RunPipelineFinalizeRunRole")).toEqual(
      grants(
        logs("RunPipelineFinalizeRun"),
        allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], "RunsTable.Arn"),
        allow(["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"], "RefundsTable.Arn"),
        allow(["dynamodb:Query"], "RefundsTable.Arn/index/gsi1"),
        allow(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], "RunBucket.Arn/runs/*"),
      ),
    );
  });

  it("complete-run and fail-run: the run record and lock; complete also the completion line and the run files", () => {
    expect(grantsOf(app.template, "RunPipelineCompleteRunRole")).toEqual(
      grants(
        logs("RunPipelineCompleteRun"),
        allow(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"], "RunsTable.Arn"),
        allow(["dynamodb:PutItem"], "RefundsTable.Arn"),
        allow(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], "RunBucket.Arn/runs/*"),
      ),
    );
    expect(grantsOf(app.template, "RunPipelineFailRunRole")).toEqual(
      grants(
        logs("RunPipelineFailRun"),
        allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], "RunsTable.Arn"),
      ),
    );
  });

  it("the state machine: its five functions, the manifest among the run files, the Map's results, its own children", () => {
    const tasks = ["CompleteRun", "ComputeBatch", "FailRun", "FinalizeRun", "PrepareRun"].flatMap((f) => [
      `Allow lambda:InvokeFunction on RunPipeline${f}Function.Arn`,
      `Allow lambda:InvokeFunction on RunPipeline${f}Function.Arn:*`,
    ]);
    const delivery = [
      "logs:CreateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:DescribeLogGroups",
      "logs:DescribeResourcePolicies",
      "logs:GetLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:UpdateLogDelivery",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
      "xray:PutTelemetryRecords",
      "xray:PutTraceSegments",
    ];
    const executions =
      "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:select(6, split(:, RunPipelineStateMachine))";
    expect(grantsOf(app.template, "RunPipelineStateMachineRole")).toEqual(
      grants(
        tasks,
        allow(delivery, "*"),
        allow(["s3:GetObject"], "RunBucket.Arn/runs/*"),
        allow(
          ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
          "RunBucket.Arn/runs/map-results/*",
        ),
        allow(["states:StartExecution"], "RunPipelineStateMachine"),
        allow(["states:DescribeExecution", "states:StopExecution"], `${executions}:*`),
        allow(["states:RedriveExecution"], `${executions}/ComputeBatches:*`),
      ),
    );
  });
});
