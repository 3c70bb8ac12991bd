import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestModelSchema } from "../../../infra/constructs/finance-api";
import { grantsOf, logicalId, synthApp } from "../template-helpers";

let app: ReturnType<typeof synthApp>;
beforeAll(() => {
  app = synthApp("prod");
});
afterAll(() => app?.dispose());

type Method = { Properties: Record<string, unknown> };

describe("FinanceApi", () => {
  it("has exactly the seven routes (runs, proposals, approve), each IAM-authorised", () => {
    const methods = Object.values(app.template.findResources("AWS::ApiGateway::Method")) as Method[];
    expect(methods.map((m) => [m.Properties.HttpMethod, m.Properties.AuthorizationType]).sort()).toEqual([
      ["GET", "AWS_IAM"],
      ["GET", "AWS_IAM"],
      ["GET", "AWS_IAM"],
      ["GET", "AWS_IAM"],
      ["POST", "AWS_IAM"],
      ["POST", "AWS_IAM"],
      ["POST", "AWS_IAM"],
    ]);
    const paths = Object.values(app.template.findResources("AWS::ApiGateway::Resource")).map(
      (r) => (r as Method).Properties.PathPart,
    );
    expect(paths.sort()).toEqual([
      "approve",
      "incidents",
      "proposals",
      "runs",
      "{incidentId}",
      "{proposalId}",
      "{runId}",
    ]);
  });

  it("validates a proposal's body against the JSON Schema of its zod schema, other fields let through to be ignored", () => {
    const model = logicalId(app.template, "FinanceApiProposalRequestModel");
    const schema = (app.template.toJSON().Resources[model] as Method).Properties.Schema as Record<string, unknown>;
    expect(schema).toMatchObject({ type: "object", required: ["previewRunId", "reason"] });
    // A body naming someone (`proposedBy`) is not refused, and not read: the proposer is the IAM principal.
    expect(schema.additionalProperties).toBeUndefined();
    const posts = (Object.values(app.template.findResources("AWS::ApiGateway::Method")) as Method[]).filter(
      (m) => m.Properties.HttpMethod === "POST",
    );
    expect(posts.map((m) => m.Properties.RequestModels ?? "none")).toContainEqual({
      "application/json": { Ref: model },
    });
    expect(posts.filter((m) => m.Properties.RequestModels === undefined)).toHaveLength(1); // approve: any body
  });

  it("validates the POST body against the JSON Schema generated from the same zod schema start-run uses", () => {
    const model0 = logicalId(app.template, "FinanceApiRunRequestModel");
    const post = (Object.values(app.template.findResources("AWS::ApiGateway::Method")) as Method[]).find(
      (m) =>
        m.Properties.HttpMethod === "POST" &&
        JSON.stringify(m.Properties.RequestModels) === JSON.stringify({ "application/json": { Ref: model0 } }),
    ) as Method;
    const model = logicalId(app.template, "FinanceApiRunRequestModel");
    expect(post.Properties.RequestModels).toEqual({ "application/json": { Ref: model } });
    expect(post.Properties.RequestValidatorId).toEqual({ Ref: logicalId(app.template, "FinanceApiValidator") });
    app.template.hasResourceProperties("AWS::ApiGateway::RequestValidator", {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    const schema = (app.template.toJSON().Resources[model] as Method).Properties.Schema as Record<string, unknown>;
    expect(schema).toMatchObject({
      $schema: "http://json-schema.org/draft-04/schema#",
      type: "object",
      required: ["requestId", "incident", "snapshot", "reason"],
      additionalProperties: false,
    });
    expect(Object.keys(schema.properties as object).sort()).toEqual([
      "batchSize",
      "dryRun",
      "incident",
      "reason",
      "requestId",
      "snapshot",
    ]);
    expect(requestModelSchema().schema).toBe("http://json-schema.org/draft-04/schema#");
  });

  it("logs access and errors, never request bodies, traced", () => {
    app.template.hasResourceProperties("AWS::ApiGateway::Stage", {
      StageName: "v1",
      TracingEnabled: true,
      MethodSettings: [{ LoggingLevel: "ERROR", DataTraceEnabled: false, HttpMethod: "*", ResourcePath: "/*" }],
    });
  });

  it("start-run may record (and, in prod, list) runs, read the snapshots' heads, leave the incident among the run files and start executions of this state machine only", () => {
    expect(grantsOf(app.template, "FinanceApiStartRunRole")).toEqual(
      [
        "Allow dynamodb:GetItem on RunsTable.Arn",
        "Allow dynamodb:PutItem on RunsTable.Arn",
        "Allow dynamodb:Query on RunsTable.Arn", // prod: a rerun needs a proposal, told by the incident's runs
        "Allow logs:CreateLogStream on FinanceApiStartRunLogs.Arn",
        "Allow logs:PutLogEvents on FinanceApiStartRunLogs.Arn",
        "Allow s3:GetObject on RunBucket.Arn/snapshots/*",
        "Allow s3:GetObjectVersion on RunBucket.Arn/snapshots/*",
        "Allow s3:PutObject on RunBucket.Arn/runs/*/incident.json",
        "Allow states:StartExecution on RunPipelineStateMachine",
        "Allow xray:PutTelemetryRecords on *",
        "Allow xray:PutTraceSegments on *",
      ].sort(),
    );
  });

  it("proposals-api may read runs and proposals and put proposals, nothing else", () => {
    expect(grantsOf(app.template, "FinanceApiProposalsRole")).toEqual(
      [
        "Allow dynamodb:GetItem on RunsTable.Arn",
        "Allow dynamodb:PutItem on RunsTable.Arn",
        "Allow dynamodb:Query on RunsTable.Arn",
        "Allow logs:CreateLogStream on FinanceApiProposalsLogs.Arn",
        "Allow logs:PutLogEvents on FinanceApiProposalsLogs.Arn",
        "Allow xray:PutTelemetryRecords on *",
        "Allow xray:PutTraceSegments on *",
      ].sort(),
    );
  });

  it("approve-proposal may start runs as start-run does, and read a preview's incident among its files", () => {
    expect(grantsOf(app.template, "FinanceApiApproveProposalRole")).toEqual(
      [
        "Allow dynamodb:GetItem on RunsTable.Arn",
        "Allow dynamodb:PutItem on RunsTable.Arn",
        "Allow dynamodb:Query on RunsTable.Arn",
        "Allow logs:CreateLogStream on FinanceApiApproveProposalLogs.Arn",
        "Allow logs:PutLogEvents on FinanceApiApproveProposalLogs.Arn",
        "Allow s3:GetObject on RunBucket.Arn/runs/*/incident.json",
        "Allow s3:GetObject on RunBucket.Arn/snapshots/*",
        "Allow s3:GetObjectVersion on RunBucket.Arn/snapshots/*",
        "Allow s3:PutObject on RunBucket.Arn/runs/*/incident.json",
        "Allow states:StartExecution on RunPipelineStateMachine",
        "Allow xray:PutTelemetryRecords on *",
        "Allow xray:PutTraceSegments on *",
      ].sort(),
    );
  });

  it("runs-api may only read runs", () => {
    expect(grantsOf(app.template, "FinanceApiReadRunsRole")).toEqual(
      [
        "Allow dynamodb:GetItem on RunsTable.Arn",
        "Allow dynamodb:Query on RunsTable.Arn",
        "Allow logs:CreateLogStream on FinanceApiReadRunsLogs.Arn",
        "Allow logs:PutLogEvents on FinanceApiReadRunsLogs.Arn",
        "Allow xray:PutTelemetryRecords on *",
        "Allow xray:PutTraceSegments on *",
      ].sort(),
    );
  });

  it("alarms on the API's server errors", () => {
    app.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "5XXError",
      Namespace: "AWS/ApiGateway",
      Threshold: 0,
    });
  });
});
