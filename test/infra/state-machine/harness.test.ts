import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { AslExecution } from "../../helpers/aws/asl-execution";
import { AWS_LIMITS, type AwsLimits } from "../../helpers/aws/aws-limits";
import { type CfnResource, DeployedTemplate } from "../../helpers/aws/deployed-template";
import { entrySize, FakeEventBridge } from "../../helpers/aws/fake-eventbridge";
import { FakeS3 } from "../../helpers/aws/fake-s3";
import { AwsCallLog, arnMatches, IamPolicies, type Statement } from "../../helpers/aws/iam-policy";
import { type LambdaHandler, LambdaService } from "../../helpers/aws/lambda-service";
import { dynamoDbActions } from "../../helpers/aws/recording-dynamodb";
import { StepFunctionsService } from "../../helpers/aws/step-functions";

/**
 * The harness itself, on a small template of its own: that it runs ASL as Step Functions does, enforces AWS's limits
 * where AWS does, and refuses what IAM would. Each test builds what it needs; nothing here touches DynamoDB.
 */

/** A policy statement as a template holds it: its Resource may be a token (`Fn::GetAtt`, `Fn::Join`). */
type TemplateStatement = Omit<Statement, "Resource"> & { Resource: unknown };

const BUCKET_ARN = { "Fn::GetAtt": ["Bucket", "Arn"] };
const FN_ARN = { "Fn::GetAtt": ["Fn", "Arn"] };

/** A template of one state machine (its definition given with `FN` for the function's ARN), one function, one bucket. */
function miniTemplate(
  definition: unknown,
  machineStatements: TemplateStatement[] = [],
  fnStatements: TemplateStatement[] = [],
) {
  const text = JSON.stringify(definition).split('"FN"');
  const parts: unknown[] = text.flatMap((t, i) => (i === 0 ? [t] : ['"', FN_ARN, `"${t}`]));
  const policy = (role: string, statements: unknown[]): CfnResource => ({
    Type: "AWS::IAM::Policy",
    Properties: { Roles: [{ Ref: role }], PolicyDocument: { Statement: statements } },
  });
  const resources: Record<string, CfnResource> = {
    Bucket: { Type: "AWS::S3::Bucket" },
    MachineRole: { Type: "AWS::IAM::Role" },
    MachinePolicy: policy("MachineRole", [
      { Effect: "Allow", Action: "lambda:InvokeFunction", Resource: FN_ARN },
      {
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject"],
        Resource: { "Fn::Join": ["", [BUCKET_ARN, "/data/*"]] },
      },
      { Effect: "Allow", Action: "states:StartExecution", Resource: { Ref: "Machine" } },
      ...machineStatements,
    ]),
    FnRole: { Type: "AWS::IAM::Role" },
    FnPolicy: policy("FnRole", [
      {
        Effect: "Allow",
        Action: ["s3:GetObject*", "s3:PutObject"],
        Resource: { "Fn::Join": ["", [BUCKET_ARN, "/data/*"]] },
      },
      ...fnStatements,
    ]),
    Fn: {
      Type: "AWS::Lambda::Function",
      Properties: { Handler: "index.handler", Role: { "Fn::GetAtt": ["FnRole", "Arn"] }, Timeout: 10 },
    },
    Machine: {
      Type: "AWS::StepFunctions::StateMachine",
      Properties: {
        RoleArn: { "Fn::GetAtt": ["MachineRole", "Arn"] },
        DefinitionString: { "Fn::Join": ["", parts] },
        LoggingConfiguration: { Level: "ERROR" },
      },
    },
    Bus: { Type: "AWS::Events::EventBus", Properties: { Name: "bus" } },
  };
  return new DeployedTemplate({ Resources: resources }, "mini");
}

/** The services around a small template; `handler` is the function's. */
function miniWorld(
  definition: unknown,
  handler: LambdaHandler = async (e) => e,
  options: { limits?: Partial<AwsLimits>; machine?: TemplateStatement[]; fn?: TemplateStatement[] } = {},
) {
  const template = miniTemplate(definition, options.machine, options.fn);
  const limits = { ...AWS_LIMITS, ...options.limits };
  const log = new AwsCallLog(new IamPolicies(template));
  const bucket = template.physicalName("Bucket");
  const s3 = new FakeS3(log, [bucket], limits);
  const lambdas = new LambdaService();
  const [fn] = template.functions();
  if (fn) lambdas.register(fn, handler);
  const events = new FakeEventBridge(template, log, lambdas, limits);
  const sfn = new StepFunctionsService({ template, log, lambdas, s3, events, limits });
  const machine = sfn.deploy("Machine");
  const fnPrincipal = { roleId: "FnRole", actor: "Fn" };
  const operator = { roleId: "MachineRole", actor: "test" };
  return {
    template,
    log,
    bucket,
    s3,
    lambdas,
    events,
    sfn,
    machine,
    fnPrincipal,
    async run(input: unknown, name = "test-execution"): Promise<AslExecution> {
      const { executionArn } = sfn.startExecution(operator, {
        stateMachineArn: machine.arn,
        name,
        input: JSON.stringify(input),
      });
      return sfn.result(executionArn);
    },
    operator,
  };
}

describe("the Distributed Map emulation", () => {
  const csvMap = (extra: Record<string, unknown> = {}) => ({
    StartAt: "Map",
    States: {
      Map: {
        Type: "Map",
        Label: "Each",
        ItemReader: {
          Resource: "arn:aws:states:::s3:getObject",
          ReaderConfig: { InputType: "CSV", CSVHeaderLocation: "FIRST_ROW" },
          Parameters: { "Bucket.$": "$.bucket", Key: "data/items.csv" },
        },
        ItemBatcher: { MaxItemsPerBatch: 3, BatchInput: { "run.$": "$.run" } },
        ItemProcessor: {
          ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
          StartAt: "Work",
          States: { Work: { Type: "Task", Resource: "FN", End: true } },
        },
        End: true,
        ...extra,
      },
    },
  });

  it("reads an S3 CSV (values as strings), batches it with its BatchInput, and writes the results as the ResultWriter does", async () => {
    // Prepare
    const seen: unknown[] = [];
    const w = miniWorld(
      csvMap({
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { "Bucket.$": "$.bucket", Prefix: "data/results" },
        },
      }),
      async (event) => {
        seen.push(event);
        return { items: (event as { Items: unknown[] }).Items.length };
      },
    );
    w.s3.put(w.bucket, "data/items.csv", 'id,name\n1,one\n2,"t,wo"\n3,three\n4,four\n5,five\n6,six\n7,seven\n');

    // Act
    const execution = await w.run({ bucket: w.bucket, run: "r-1" });

    // Assess
    expect(execution.status).toBe("SUCCEEDED");
    expect(seen).toHaveLength(3);
    expect(seen).toContainEqual({
      BatchInput: { run: "r-1" },
      Items: [
        { id: "1", name: "one" },
        { id: "2", name: "t,wo" },
        { id: "3", name: "three" },
      ],
    });
    const output = execution.output as { MapRunArn: string; ResultWriterDetails: { Bucket: string; Key: string } };
    const mapRunId = output.MapRunArn.split(":").at(-1);
    expect(output.MapRunArn).toMatch(/^arn:aws:states:ap-northeast-1:123456789012:mapRun:mini-Machine\/Each:/);
    expect(output.ResultWriterDetails).toEqual({ Bucket: w.bucket, Key: `data/results/${mapRunId}/manifest.json` });
    const manifest = JSON.parse(w.s3.text(w.bucket, output.ResultWriterDetails.Key) ?? "");
    expect(manifest).toEqual({
      DestinationBucket: w.bucket,
      MapRunArn: output.MapRunArn,
      ResultFiles: {
        FAILED: [],
        PENDING: [],
        SUCCEEDED: [{ Key: `data/results/${mapRunId}/SUCCEEDED_0.json`, Size: expect.any(Number) }],
      },
    });
    const succeeded = JSON.parse(w.s3.text(w.bucket, `data/results/${mapRunId}/SUCCEEDED_0.json`) ?? "");
    expect(
      succeeded
        .map((e: { Output: string }) => JSON.parse(e.Output))
        .sort((a: { items: number }, b: { items: number }) => a.items - b.items),
    ).toEqual([{ items: 1 }, { items: 3 }, { items: 3 }]);
    expect(succeeded[0]).toMatchObject({
      ExecutionArn: expect.stringMatching(/:execution:mini-Machine\/Each:/),
      Input: expect.stringContaining('"BatchInput":{"run":"r-1"}'),
      InputDetails: { Included: true },
      Status: "SUCCEEDED",
    });
    expect(w.log.violations()).toEqual([]);
  });

  it("fails a Map whose children's outputs add up past the payload limit with States.DataLimitExceeded, which States.ALL does not catch", async () => {
    // Prepare: 300 children of ten characters each, against a 2 KiB limit.
    const definition = (catchers: unknown[]) => ({
      StartAt: "Map",
      States: {
        Map: {
          Type: "Map",
          ItemsPath: "$.items",
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "EXPRESS" },
            StartAt: "Echo",
            States: { Echo: { Type: "Pass", Result: "0123456789", End: true } },
          },
          Catch: catchers,
          ResultPath: null,
          End: true,
        },
        Caught: { Type: "Pass", End: true },
      },
    });
    const input = { items: Array.from({ length: 300 }, (_, i) => i) };
    const limits = { payloadBytes: 2_048 };

    // Act
    const uncaught = await miniWorld(definition([{ ErrorEquals: ["States.ALL"], Next: "Caught" }]), undefined, {
      limits,
    }).run(input);
    const caught = await miniWorld(
      definition([{ ErrorEquals: ["States.DataLimitExceeded"], ResultPath: "$.error", Next: "Caught" }]),
      undefined,
      { limits },
    ).run(input);

    // Assess
    expect(uncaught).toMatchObject({
      status: "FAILED",
      error: "States.DataLimitExceeded",
      cause: "the results of Map (300 children) is 3901 bytes, over the 2048-byte payload limit",
    });
    expect(caught.status).toBe("SUCCEEDED");
    expect(caught.output).toMatchObject({ error: { Error: "States.DataLimitExceeded" } });
  });

  it("tolerates as many failed items as ToleratedFailureCount, then fails with States.ExceedToleratedFailureThreshold", async () => {
    // Prepare: children fail for odd items.
    const definition = (tolerated: number) => ({
      StartAt: "Map",
      States: {
        Map: {
          Type: "Map",
          ItemsPath: "$.items",
          ToleratedFailureCount: tolerated,
          MaxConcurrency: 1,
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
            StartAt: "Odd?",
            States: {
              "Odd?": {
                Type: "Choice",
                Choices: [{ Variable: "$.odd", BooleanEquals: true, Next: "Boom" }],
                Default: "Fine",
              },
              Boom: { Type: "Fail", Error: "OddError", Cause: "odd" },
              Fine: { Type: "Pass", Result: "ok", End: true },
            },
          },
          Catch: [{ ErrorEquals: ["States.ALL"], Next: "Failed" }],
          End: true,
        },
        Failed: { Type: "Fail", ErrorPath: "$.Error", CausePath: "$.Cause" },
      },
    });
    const input = { items: [1, 2, 3, 4].map((n) => ({ odd: n % 2 === 1 })) };

    // Act
    const tolerated = await miniWorld(definition(2)).run(input);
    const exceeded = await miniWorld(definition(1)).run(input);

    // Assess
    expect(tolerated.output).toEqual([
      { Error: "OddError", Cause: "odd" },
      "ok",
      { Error: "OddError", Cause: "odd" },
      "ok",
    ]);
    expect(exceeded).toMatchObject({ status: "FAILED", error: "States.ExceedToleratedFailureThreshold" });
    expect(exceeded.cause).toMatch(/^The specified tolerated failure threshold was exceeded: 2 of 4 items failed/);
  });
});

describe("Tasks invoking Lambda", () => {
  class ShardMissingError extends Error {
    constructor() {
      super("shard 7 is missing");
      this.name = "ShardMissingError";
    }
  }
  const definition = {
    StartAt: "Call",
    States: {
      Call: {
        Type: "Task",
        Resource: "FN",
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Record" }],
        End: true,
      },
      Record: { Type: "Pass", Next: "Rethrow" },
      Rethrow: { Type: "Fail", ErrorPath: "$.error.Error", CausePath: "$.error.Cause" },
    },
  };

  it("reports a handler's error as Step Functions reports a Lambda's: Error its type, Cause the runtime's JSON", async () => {
    // Prepare
    const w = miniWorld(definition, async () => {
      throw new ShardMissingError();
    });

    // Act
    const execution = await w.run({ a: 1 });

    // Assess
    expect(execution.status).toBe("FAILED");
    expect(execution.error).toBe("ShardMissingError");
    expect(JSON.parse(execution.cause ?? "")).toEqual({
      errorType: "ShardMissingError",
      errorMessage: "shard 7 is missing",
      trace: expect.arrayContaining([expect.stringContaining("ShardMissingError: shard 7 is missing")]),
    });
  });

  it("fails a Task whose result is over the payload limit with States.DataLimitExceeded, uncaught by States.ALL", async () => {
    const w = miniWorld(definition, async () => "x".repeat(300), { limits: { payloadBytes: 256 } });
    const execution = await w.run({ a: 1 });
    expect(execution).toMatchObject({
      status: "FAILED",
      error: "States.DataLimitExceeded",
      cause: "the result of Call is 302 bytes, over the 256-byte payload limit",
    });
  });

  it("fails the execution when a state's output is over the payload limit, and invokes nothing after it", async () => {
    // Prepare: the result fits, but with the input it is put into (ResultPath) it does not.
    const calls: unknown[] = [];
    const w = miniWorld(
      {
        StartAt: "First",
        States: {
          First: { Type: "Task", Resource: "FN", ResultPath: "$.result", Next: "Second" },
          Second: { Type: "Task", Resource: "FN", End: true },
        },
      },
      async (e) => {
        calls.push(e);
        return "y".repeat(150);
      },
      { limits: { payloadBytes: 256 } },
    );

    // Act
    const execution = await w.run({ pad: "p".repeat(150) });

    // Assess
    expect(execution).toMatchObject({ status: "FAILED", error: "States.DataLimitExceeded" });
    expect(execution.cause).toMatch(/^the output of First is \d+ bytes/);
    expect(calls).toHaveLength(1);
  });
});

describe("StartExecution", () => {
  const waiting = { StartAt: "Call", States: { Call: { Type: "Task", Resource: "FN", End: true } } };

  it("answers a second call of a running execution's name and input as the first, and refuses any other", async () => {
    // Prepare: the execution waits in its Task.
    let release = () => {};
    const w = miniWorld(waiting, () => new Promise((r) => (release = () => r("done"))));
    const start = (input: string) =>
      w.sfn.startExecution(w.operator, { stateMachineArn: w.machine.arn, name: "run-1", input });

    // Act
    const first = start('{"a":1}');
    const again = start('{"a":1}');
    const other = () => start('{"a":2}');

    // Assess
    expect(again).toEqual(first);
    expect(other).toThrow(expect.objectContaining({ name: "ExecutionAlreadyExists" }));
    await new Promise((r) => setTimeout(r, 10));
    release();
    await w.sfn.settled();
    expect(() => start('{"a":1}')).toThrow(expect.objectContaining({ name: "ExecutionAlreadyExists" }));
    expect(w.sfn.executions.size).toBe(1);
  });

  it("refuses a name over 80 characters or outside [0-9A-Za-z_-], an input over the limit or not JSON", () => {
    const w = miniWorld(waiting, undefined, { limits: { payloadBytes: 64 } });
    const start = (name: string, input = "{}") =>
      w.sfn.startExecution(w.operator, { stateMachineArn: w.machine.arn, name, input });
    expect(() => start("n".repeat(81))).toThrow(expect.objectContaining({ name: "ValidationException" }));
    expect(() => start("run#1")).toThrow(expect.objectContaining({ name: "InvalidName" }));
    expect(() => start("big", JSON.stringify({ a: "é".repeat(32) }))).toThrow(
      expect.objectContaining({ name: "ValidationException", message: expect.stringMatching(/'input'.*72 bytes/) }),
    );
    expect(() => start("bad", "{")).toThrow(expect.objectContaining({ name: "InvalidExecutionInput" }));
  });

  it("is refused to a role whose policies do not allow states:StartExecution on the state machine", () => {
    const w = miniWorld(waiting);
    expect(() =>
      w.sfn.startExecution(
        { roleId: "FnRole", actor: "Fn" },
        { stateMachineArn: w.machine.arn, name: "x", input: "{}" },
      ),
    ).toThrow(expect.objectContaining({ name: "AccessDeniedException" }));
    expect(w.log.violations()).toEqual([
      "Fn (role FnRole): states:StartExecution on arn:aws:states:ap-northeast-1:123456789012:stateMachine:mini-Machine [StartExecutionCommand]: no statement of the role's policies allows it",
    ]);
  });
});

describe("the fake S3", () => {
  const MiB = 1024 * 1024;

  it("completes a multipart upload of parts of 5 MiB but the last, and refuses a smaller part before the last", async () => {
    // Prepare
    const w = miniWorld({ StartAt: "P", States: { P: { Type: "Pass", End: true } } }, undefined, {
      fn: [{ Effect: "Allow", Action: "s3:AbortMultipartUpload", Resource: "arn:aws:s3:::mini-bucket/data/*" }],
    });
    const s3 = w.s3.clientFor(w.fnPrincipal);
    const upload = async (key: string, sizes: number[]) => {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: w.bucket, Key: key }));
      const parts = [];
      for (const [i, size] of sizes.entries()) {
        const PartNumber = i + 1;
        const { ETag } = await s3.send(
          new UploadPartCommand({ Bucket: w.bucket, Key: key, UploadId, PartNumber, Body: Buffer.alloc(size, 97 + i) }),
        );
        parts.push({ ETag, PartNumber });
      }
      return { UploadId, parts };
    };

    // Act
    const good = await upload("data/good", [5 * MiB, 1]);
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: w.bucket,
        Key: "data/good",
        UploadId: good.UploadId,
        MultipartUpload: { Parts: good.parts },
      }),
    );
    const small = await upload("data/small", [MiB, 1]);
    const refused = s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: w.bucket,
        Key: "data/small",
        UploadId: small.UploadId,
        MultipartUpload: { Parts: small.parts },
      }),
    );

    // Assess
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-2"$/);
    expect(w.s3.text(w.bucket, "data/good")?.length).toBe(5 * MiB + 1);
    await expect(refused).rejects.toMatchObject({ name: "EntityTooSmall", $metadata: { httpStatusCode: 400 } });
    await s3.send(new AbortMultipartUploadCommand({ Bucket: w.bucket, Key: "data/small", UploadId: small.UploadId }));
    await expect(
      s3.send(
        new UploadPartCommand({
          Bucket: w.bucket,
          Key: "data/small",
          UploadId: small.UploadId,
          PartNumber: 3,
          Body: "x",
        }),
      ),
    ).rejects.toMatchObject({ name: "NoSuchUpload" });
    await expect(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: w.bucket,
          Key: "data/good",
          UploadId: good.UploadId,
          MultipartUpload: { Parts: good.parts },
        }),
      ),
    ).rejects.toMatchObject({ name: "NoSuchUpload" });
    expect(w.s3.openUploads()).toEqual([]);
    expect(w.log.violations()).toEqual([]);
  });

  it("serves ranged reads of a version, lists by prefix and page, and answers 403 for a missing key without s3:ListBucket", async () => {
    const w = miniWorld({ StartAt: "P", States: { P: { Type: "Pass", End: true } } });
    const s3 = w.s3.clientFor(w.fnPrincipal);
    const v1 = w.s3.put(w.bucket, "data/a.csv", "0123456789");
    w.s3.put(w.bucket, "data/a.csv", "abcdefghij");
    const range = async (Range: string, VersionId?: string) => {
      const r = await s3.send(new GetObjectCommand({ Bucket: w.bucket, Key: "data/a.csv", Range, VersionId }));
      return [await r.Body?.transformToString(), r.ContentRange, r.$metadata.httpStatusCode];
    };
    expect(await range("bytes=2-4", v1)).toEqual(["234", "bytes 2-4/10", 206]);
    expect(await range("bytes=-3")).toEqual(["hij", "bytes 7-9/10", 206]);
    expect(await range("bytes=8-")).toEqual(["ij", "bytes 8-9/10", 206]);
    await expect(range("bytes=10-12")).rejects.toMatchObject({
      name: "InvalidRange",
      $metadata: { httpStatusCode: 416 },
    });
    await expect(s3.send(new GetObjectCommand({ Bucket: w.bucket, Key: "data/none" }))).rejects.toMatchObject({
      name: "AccessDenied",
      $metadata: { httpStatusCode: 403 },
    });
    await expect(s3.send(new HeadObjectCommand({ Bucket: w.bucket, Key: "other/a" }))).rejects.toMatchObject({
      name: "Forbidden",
      $metadata: { httpStatusCode: 403 },
    });
    for (const k of ["data/b/1", "data/b/2", "data/c", "data/d"]) w.s3.put(w.bucket, k, k);
    const listing = new ListObjectsV2Command({ Bucket: w.bucket, Prefix: "data/", Delimiter: "/", MaxKeys: 2 });
    const lister = w.s3.clientFor({ roleId: "MachineRole", actor: "lister" });
    await expect(lister.send(listing)).rejects.toMatchObject({ name: "AccessDenied" });
    expect(w.log.violations()).toContainEqual(expect.stringContaining("s3:ListBucket on arn:aws:s3:::mini-bucket"));
  });

  it("lists by prefix and delimiter a page at a time, for a caller allowed s3:ListBucket", async () => {
    const w = miniWorld({ StartAt: "P", States: { P: { Type: "Pass", End: true } } }, undefined, {
      fn: [{ Effect: "Allow", Action: "s3:ListBucket", Resource: BUCKET_ARN }],
    });
    const s3 = w.s3.clientFor(w.fnPrincipal);
    for (const k of ["data/b/1", "data/b/2", "data/c", "data/d"]) w.s3.put(w.bucket, k, k);
    const first = await s3.send(
      new ListObjectsV2Command({ Bucket: w.bucket, Prefix: "data/", Delimiter: "/", MaxKeys: 2 }),
    );
    const second = await s3.send(
      new ListObjectsV2Command({
        Bucket: w.bucket,
        Prefix: "data/",
        Delimiter: "/",
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    expect([first.CommonPrefixes, first.Contents?.map((c) => c.Key), first.IsTruncated]).toEqual([
      [{ Prefix: "data/b/" }],
      ["data/c"],
      true,
    ]);
    expect([second.Contents?.map((c) => c.Key), second.IsTruncated]).toEqual([["data/d"], false]);
    await expect(s3.send(new GetObjectCommand({ Bucket: w.bucket, Key: "data/none" }))).rejects.toMatchObject({
      name: "NoSuchKey",
      $metadata: { httpStatusCode: 404 },
    });
    await expect(
      s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: "data/k".padEnd(1_025, "k"), Body: "x" })),
    ).rejects.toMatchObject({ name: "KeyTooLongError" });
    expect(w.log.violations()).toEqual([]);
  });
});

describe("the fake EventBridge", () => {
  const busStatements: TemplateStatement[] = [
    {
      Effect: "Allow",
      Action: "events:PutEvents",
      Resource: { "Fn::GetAtt": ["Bus", "Arn"] },
    },
  ];

  it("computes an entry's size as AWS documents it", () => {
    expect(
      entrySize({ Source: "hiwari", DetailType: "Refund", Detail: '{"é":1}', Resources: ["r1"], Time: new Date() }),
    ).toBe(14 + 6 + 6 + 8 + 2);
  });

  it("refuses more than 10 entries and an entry or request over 256 KB, and each malformed entry alone", async () => {
    // Prepare
    const w = miniWorld({ StartAt: "P", States: { P: { Type: "Pass", End: true } } }, undefined, { fn: busStatements });
    const client = w.events.clientFor(w.fnPrincipal);
    const entry = (detail: string) => ({ EventBusName: "bus", Source: "hiwari", DetailType: "Refund", Detail: detail });
    const put = (entries: ReturnType<typeof entry>[]) => client.send(new PutEventsCommand({ Entries: entries }));

    // Act / Assess
    await expect(put(Array.from({ length: 11 }, () => entry("{}")))).rejects.toMatchObject({
      name: "ValidationException",
    });
    await expect(put([entry(JSON.stringify({ pad: "x".repeat(262_144) }))])).rejects.toMatchObject({
      name: "ValidationException",
    });
    const half = JSON.stringify({ pad: "x".repeat(140_000) });
    await expect(put([entry(half), entry(half)])).rejects.toMatchObject({ name: "ValidationException" });
    const answer = await put([entry('{"ok":true}'), entry("not json"), { ...entry("{}"), EventBusName: "nope" }]);
    expect(answer.FailedEntryCount).toBe(2);
    expect(answer.Entries?.map((e) => e.ErrorCode ?? "ok")).toEqual(["ok", "MalformedDetail", "AccessDeniedException"]);
    expect(w.events.events.get("bus")).toHaveLength(1);
    expect(w.log.violations()).toEqual([
      expect.stringContaining("events:PutEvents on arn:aws:events:ap-northeast-1:123456789012:event-bus/nope"),
    ]);
  });
});

describe("IAM as the harness evaluates it", () => {
  it("matches ARNs segment by segment, a `*` of the resource part spanning `/` and `:`", () => {
    expect(arnMatches("arn:aws:s3:::bucket/runs/*", "arn:aws:s3:::bucket/runs/inc/run-1/manifest.csv")).toBe(true);
    expect(arnMatches("arn:aws:s3:::bucket/runs/*", "arn:aws:s3:::bucket/snapshots/a.csv")).toBe(false);
    expect(arnMatches("arn:aws:s3:::bucket/runs/map-results/*", "arn:aws:s3:::bucket/runs/map-results")).toBe(false);
    expect(
      arnMatches(
        "arn:aws:lambda:*:123456789012:function:f:*",
        "arn:aws:lambda:ap-northeast-1:123456789012:function:f:$LATEST",
      ),
    ).toBe(true);
    expect(arnMatches("arn:aws:dynamodb:r:1:table/refunds", "arn:aws:dynamodb:r:1:table/refunds/index/gsi1")).toBe(
      false,
    );
  });

  it("names the actions and resources a DynamoDB call needs", () => {
    expect(dynamoDbActions("BatchWriteItemCommand", { RequestItems: { a: [], b: [] } }).map((c) => c.resource)).toEqual(
      ["arn:aws:dynamodb:ap-northeast-1:123456789012:table/a", "arn:aws:dynamodb:ap-northeast-1:123456789012:table/b"],
    );
    expect(dynamoDbActions("QueryCommand", { TableName: "t", IndexName: "gsi1" })).toEqual([
      { action: "dynamodb:Query", resource: "arn:aws:dynamodb:ap-northeast-1:123456789012:table/t/index/gsi1" },
    ]);
    expect(
      dynamoDbActions("TransactWriteItemsCommand", {
        TransactItems: [{ Put: { TableName: "t" } }, { ConditionCheck: { TableName: "u" } }],
      }).map((c) => c.action),
    ).toEqual(["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]);
  });
});
