import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grantsOf, render, rolesOf, synthApp } from "./template-helpers";

/**
 * The stack's security properties, over every resource of the template (docs/security.md): which roles exist and
 * exactly what each may do (read from the document's own table), who may assume them and invoke the functions,
 * that the API takes IAM-signed requests only, which resource policies exist, and what encrypts each store.
 */

let app: ReturnType<typeof synthApp>;
beforeAll(() => {
  app = synthApp("prod");
});
afterAll(() => app?.dispose());

type Resource = { Type: string; Properties: Record<string, unknown> };
const resources = () => app.template.toJSON().Resources as Record<string, Resource>;
const ofType = (type: string) => Object.entries(resources()).filter(([, r]) => r.Type === type);
const bare = (id: string) => id.replace(/[0-9A-F]{8}$/, "");

/** How the document writes the state machine's executions (the template's `Fn::Select` of its ARN). */
const EXECUTIONS =
  "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:select(6, split(:, RunPipelineStateMachine))";
const documented = (line: string) => line.replace(EXECUTIONS, "execution:RunPipelineStateMachine");

const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

/**
 * The least-privilege table of docs/security.md, as `grantsOf` lines per role: a row's actions times its resources;
 * a row without a role continues the one above; "managed policy `X`" is the AWS managed policy X.
 */
function documentedGrants(): Map<string, string[]> {
  const doc = readFileSync(new URL("../../docs/security.md", import.meta.url), "utf8");
  const section = doc.split(/^## /m).find((s) => s.startsWith("Least privilege"));
  if (!section) throw new Error("docs/security.md has no 'Least privilege' section");
  const rows = section.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| role "));
  const grants = new Map<string, string[]>();
  let role = "";
  for (const row of rows) {
    const [roleCell = "", actions = "", resourcesCell = ""] = row.split("|").slice(1, 4);
    if (roleCell.trim()) role = codeSpans(roleCell)[0] ?? roleCell.trim();
    const lines = grants.get(role) ?? [];
    grants.set(role, lines);
    const managed = /managed policy `([^`]+)`/.exec(actions);
    if (managed) lines.push(`managed arn:<AWS::Partition>:iam::aws:policy/service-role/${managed[1]}`);
    else
      for (const action of codeSpans(actions))
        for (const resource of codeSpans(resourcesCell)) lines.push(`Allow ${action} on ${resource}`);
  }
  return grants;
}

/** The role's trust policy. */
const trustOf = (role: string) => {
  const [, resource] = ofType("AWS::IAM::Role").find(([id]) => bare(id) === role) ?? [];
  return resource?.Properties.AssumeRolePolicyDocument as { Statement: Record<string, unknown>[] };
};
const assumedByLambda = (role: string) =>
  JSON.stringify(trustOf(role).Statement) ===
  JSON.stringify([{ Action: "sts:AssumeRole", Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" } }]);

describe("least privilege: every role of the stack, and exactly what it may do", () => {
  it("has exactly the roles of docs/security.md's table", () => {
    expect(rolesOf(app.template)).toEqual([...documentedGrants().keys()].sort());
  });

  it.each([...documentedGrants()])("%s is granted exactly what docs/security.md says", (role, lines) => {
    // Every function may also write its own log group and send traces (said once in the document, above the table).
    const functionLines = assumedByLambda(role)
      ? [
          `Allow logs:CreateLogStream on ${role.replace(/Role$/, "")}Logs.Arn`,
          `Allow logs:PutLogEvents on ${role.replace(/Role$/, "")}Logs.Arn`,
          "Allow xray:PutTelemetryRecords on *",
          "Allow xray:PutTraceSegments on *",
        ]
      : [];
    expect(grantsOf(app.template, role).map(documented)).toEqual([...lines, ...functionLines].sort());
  });

  it("lets each role be assumed only by the service that runs it", () => {
    const lambda = rolesOf(app.template).filter(assumedByLambda);
    expect(lambda).toEqual([
      "FinanceApiApproveProposalRole",
      "FinanceApiProposalsRole",
      "FinanceApiReadRunsRole",
      "FinanceApiStartRunRole",
      "RefundEventsPublishEventsRole",
      "RunPipelineCompleteRunRole",
      "RunPipelineComputeBatchRole",
      "RunPipelineFailRunRole",
      "RunPipelineFinalizeRunRole",
      "RunPipelinePrepareRunRole",
    ]);
    expect(trustOf("RunPipelineStateMachineRole").Statement).toEqual([
      {
        Action: "sts:AssumeRole",
        Condition: {
          ArnLike: {
            "aws:SourceArn": {
              "Fn::Join": [
                "",
                [
                  "arn:",
                  { Ref: "AWS::Partition" },
                  ":states:",
                  { Ref: "AWS::Region" },
                  ":",
                  { Ref: "AWS::AccountId" },
                  ":stateMachine:*",
                ],
              ],
            },
          },
          StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } },
        },
        Effect: "Allow",
        Principal: { Service: "states.amazonaws.com" },
      },
    ]);
    expect(trustOf("FinanceApiCloudWatchRole").Statement).toEqual([
      { Action: "sts:AssumeRole", Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" } },
    ]);
  });

  it("runs every function with a role of its own", () => {
    const roles = ofType("AWS::Lambda::Function").map(([, f]) =>
      bare((f.Properties.Role as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0] as string),
    );
    expect(roles).toHaveLength(10);
    expect(new Set(roles).size).toBe(roles.length);
    expect(roles.every(assumedByLambda)).toBe(true);
  });

  it("grants nothing any other way: no user, group, access key or managed policy; no inline policy on a role", () => {
    for (const type of ["AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::AccessKey", "AWS::IAM::ManagedPolicy"])
      app.template.resourceCountIs(type, 0);
    for (const [, policy] of ofType("AWS::IAM::Policy")) {
      expect(policy.Properties.Users).toBeUndefined();
      expect(policy.Properties.Groups).toBeUndefined();
    }
    for (const [, role] of ofType("AWS::IAM::Role")) expect(role.Properties.Policies).toBeUndefined();
  });
});

describe("who may reach the functions and the data", () => {
  it("lets API Gateway invoke the API's functions from the v1 stage's methods only, and one rule fail-run", () => {
    const permissions = ofType("AWS::Lambda::Permission").map(([, p]) =>
      [
        p.Properties.Action,
        render(p.Properties.FunctionName),
        p.Properties.Principal,
        render(p.Properties.SourceArn),
      ].join(" "),
    );
    const api =
      "arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:FinanceApi/FinanceApiDeploymentStagev1";
    // No `test-invoke-stage` permission: the console's test calls an integration without the method's IAM check.
    expect(permissions.sort()).toEqual([
      `lambda:InvokeFunction FinanceApiApproveProposalFunction.Arn apigateway.amazonaws.com ${api}/POST/incidents/*/proposals/*/approve`,
      `lambda:InvokeFunction FinanceApiProposalsFunction.Arn apigateway.amazonaws.com ${api}/GET/incidents/*/proposals`,
      `lambda:InvokeFunction FinanceApiProposalsFunction.Arn apigateway.amazonaws.com ${api}/GET/incidents/*/proposals/*`,
      `lambda:InvokeFunction FinanceApiProposalsFunction.Arn apigateway.amazonaws.com ${api}/POST/incidents/*/proposals`,
      `lambda:InvokeFunction FinanceApiReadRunsFunction.Arn apigateway.amazonaws.com ${api}/GET/incidents/*/runs`,
      `lambda:InvokeFunction FinanceApiReadRunsFunction.Arn apigateway.amazonaws.com ${api}/GET/incidents/*/runs/*`,
      `lambda:InvokeFunction FinanceApiStartRunFunction.Arn apigateway.amazonaws.com ${api}/POST/incidents/*/runs`,
      "lambda:InvokeFunction RunPipelineFailRunFunction.Arn events.amazonaws.com RunPipelineEndedWithoutCatch.Arn",
    ]);
  });

  it("authorises every method of the API with IAM (SigV4): no other authoriser, no API key, no resource policy", () => {
    const methods = ofType("AWS::ApiGateway::Method").map(([, m]) => m.Properties);
    expect(methods.length).toBeGreaterThan(0);
    const notIam = methods.filter((m) => m.AuthorizationType !== "AWS_IAM" || m.AuthorizerId !== undefined);
    expect(notIam.map((m) => `${m.HttpMethod} ${render(m.ResourceId)}: ${m.AuthorizationType}`)).toEqual([]);
    expect(methods.filter((m) => m.ApiKeyRequired === true)).toEqual([]);
    for (const type of ["AWS::ApiGateway::Authorizer", "AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan"])
      app.template.resourceCountIs(type, 0);
    // Without a resource policy, only principals of this account can be granted execute-api:Invoke.
    for (const [, api] of ofType("AWS::ApiGateway::RestApi")) expect(api.Properties.Policy).toBeUndefined();
  });

  it("has resource policies that only refuse requests without TLS, on the buckets and the queue; none on tables or the bus", () => {
    const tlsOnly = (service: string, resources: unknown) => ({
      Action: `${service}:*`,
      Condition: { Bool: { "aws:SecureTransport": "false" } },
      Effect: "Deny",
      Principal: { AWS: "*" },
      Resource: resources,
    });
    const statements = (type: string, target: string) =>
      ofType(type).map(([, p]) => [
        render([p.Properties[target]].flat()[0]),
        (p.Properties.PolicyDocument as { Statement: unknown[] }).Statement,
      ]);
    const objects = (bucket: string) => [
      { "Fn::GetAtt": [bucket, "Arn"] },
      { "Fn::Join": ["", [{ "Fn::GetAtt": [bucket, "Arn"] }, "/*"]] },
    ];
    const id = (prefix: string) => Object.keys(resources()).find((k) => bare(k) === prefix) as string;
    expect(statements("AWS::S3::BucketPolicy", "Bucket").sort()).toEqual([
      ["RunBucket", [tlsOnly("s3", objects(id("RunBucket")))]],
      ["RunBucketAccessLogs", [tlsOnly("s3", objects(id("RunBucketAccessLogs")))]],
    ]);
    expect(statements("AWS::SQS::QueuePolicy", "Queues")).toEqual([
      [
        "RefundEventsPublisherDeadLetters",
        [tlsOnly("sqs", { "Fn::GetAtt": [id("RefundEventsPublisherDeadLetters"), "Arn"] })],
      ],
    ]);
    app.template.resourceCountIs("AWS::Events::EventBusPolicy", 0);
    for (const [, table] of ofType("AWS::DynamoDB::Table")) expect(table.Properties.ResourcePolicy).toBeUndefined();
  });
});

describe("encryption at rest", () => {
  /** What encrypts a store, from its template properties; `NONE …` for anything unencrypted or unknown. */
  function encryptionOf(resource: Resource): string {
    const p = resource.Properties;
    switch (resource.Type) {
      case "AWS::DynamoDB::Table": {
        const sse = p.SSESpecification as { SSEEnabled?: boolean; KMSMasterKeyId?: unknown } | undefined;
        if (sse?.SSEEnabled !== true) return "DynamoDB's AWS owned key (SSE not enabled)";
        return sse.KMSMasterKeyId === undefined
          ? "AWS managed key aws/dynamodb"
          : `KMS key ${render(sse.KMSMasterKeyId)}`;
      }
      case "AWS::S3::Bucket": {
        const rules =
          (
            p.BucketEncryption as {
              ServerSideEncryptionConfiguration?: { ServerSideEncryptionByDefault: Record<string, unknown> }[];
            }
          )?.ServerSideEncryptionConfiguration ?? [];
        return rules.map((r) => JSON.stringify(r.ServerSideEncryptionByDefault)).join() || "NONE";
      }
      case "AWS::SQS::Queue":
        if (p.KmsMasterKeyId !== undefined) return `KMS key ${render(p.KmsMasterKeyId)}`;
        return p.SqsManagedSseEnabled === true ? "SSE-SQS" : "NONE";
      case "AWS::Events::EventBus":
      case "AWS::Events::Archive":
        // An empty KmsKeyIdentifier is EventBridge's default: AES-256 under an AWS owned key.
        return p.KmsKeyIdentifier === undefined || p.KmsKeyIdentifier === ""
          ? "AWS owned key"
          : `KMS key ${render(p.KmsKeyIdentifier)}`;
      case "AWS::Logs::LogGroup":
        return p.KmsKeyId === undefined ? "CloudWatch Logs' own encryption" : `KMS key ${render(p.KmsKeyId)}`;
      case "AWS::StepFunctions::StateMachine": {
        const config = p.EncryptionConfiguration as { Type?: string; KmsKeyId?: unknown } | undefined;
        return config === undefined || config.Type === "AWS_OWNED_KEY"
          ? "AWS owned key"
          : `KMS key ${render(config.KmsKeyId)}`;
      }
      default:
        return `NONE: ${resource.Type} is not a store this test knows`;
    }
  }

  /** Resource types that keep no data of their own: everything else must be a store with its encryption stated. */
  const NO_DATA = [
    "AWS::ApiGateway::Account",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Model",
    "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Stage",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::Events::Rule",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
  ];

  it("encrypts every store, each with the key docs/security.md names", () => {
    const stores = Object.fromEntries(
      Object.entries(resources())
        .filter(([, r]) => !NO_DATA.includes(r.Type))
        .map(([id, r]) => [bare(id), encryptionOf(r)]),
    );
    const sseS3 = JSON.stringify({ SSEAlgorithm: "AES256" });
    const logs = "CloudWatch Logs' own encryption";
    expect(stores).toEqual({
      RefundsTable: "AWS managed key aws/dynamodb",
      RunsTable: "AWS managed key aws/dynamodb",
      RunBucket: sseS3,
      RunBucketAccessLogs: sseS3,
      RefundEventsPublisherDeadLetters: "SSE-SQS",
      RefundEventsBus: "AWS owned key",
      RefundEventsArchive: "AWS owned key",
      RunPipelineStateMachine: "AWS owned key",
      FinanceApiAccessLogs: logs,
      FinanceApiApproveProposalLogs: logs,
      FinanceApiProposalsLogs: logs,
      FinanceApiReadRunsLogs: logs,
      FinanceApiStartRunLogs: logs,
      RefundEventsPublishEventsLogs: logs,
      RunPipelineCompleteRunLogs: logs,
      RunPipelineComputeBatchLogs: logs,
      RunPipelineFailRunLogs: logs,
      RunPipelineFinalizeRunLogs: logs,
      RunPipelinePrepareRunLogs: logs,
      RunPipelineStateMachineLogs: logs,
    });
    // The archive states the AWS owned key explicitly (CDK writes an empty KmsKeyIdentifier without a kmsKey).
    const [[, archive] = []] = ofType("AWS::Events::Archive");
    expect(archive?.Properties.KmsKeyIdentifier).toBe("");
  });
});
