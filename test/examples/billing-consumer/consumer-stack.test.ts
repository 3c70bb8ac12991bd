import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type CfnResource, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { PolicyValidationReportJson } from "aws-cdk-lib/cloud-assembly-schema";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BillingConsumerStack } from "../../../examples/billing-consumer/consumer-stack";

// Synthesise with the feature flags `cdk synth` reads from cdk.json.
const cdkJson = JSON.parse(readFileSync(new URL("../../../cdk.json", import.meta.url), "utf8")) as {
  context?: Record<string, unknown>;
};

type Resource = { Type: string; Properties: Record<string, unknown> };
const arn = (logicalId: string) => ({ "Fn::GetAtt": [logicalId, "Arn"] });

let outdir: string;
let app: App;
let stack: BillingConsumerStack;
let template: Template;
let ids: { queue: string; role: string; handler: string };

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "hiwari-billing-example-"));
  app = new App({ context: { ...cdkJson.context }, outdir, builtinCloudFormationValidation: false });
  stack = new BillingConsumerStack(app, "BillingConsumerExample", { busName: "hiwari-prod-bus" });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  template = Template.fromStack(stack); // bundles sqs-handler.ts with the local esbuild
  const id = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnResource);
  ids = {
    queue: id(stack.consumer.queue),
    role: id(stack.handler.role as IConstruct),
    handler: id(stack.handler),
  };
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const resourcesOf = (type: string) => Object.values(template.findResources(type) as Record<string, Resource>);

describe("the example billing consumer stack", () => {
  it("puts the rule on hiwari's bus, by name", () => {
    const [rule, ...more] = resourcesOf("AWS::Events::Rule");
    expect(more).toEqual([]);
    expect(rule?.Properties.EventBusName).toBe("hiwari-prod-bus");
    expect(rule?.Properties.EventPattern).toEqual({
      source: ["hiwari.refunds"],
      "detail-type": ["Refund Calculated", "Refund Adjusted", "Refund Voided", "Refund Run Completed"],
    });
  });

  it("reads the queue in batches of 10, reporting partial batch failures", () => {
    expect(resourcesOf("AWS::Lambda::EventSourceMapping").map((m) => m.Properties)).toEqual([
      {
        EventSourceArn: arn(ids.queue),
        FunctionName: { Ref: ids.handler },
        BatchSize: 10,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
      },
    ]);
  });

  it("runs sqs-handler on ARM64 and nodejs22.x; the queue's visibility timeout is six times the function's", () => {
    const [fn, ...more] = resourcesOf("AWS::Lambda::Function");
    expect(more).toEqual([]);
    expect(fn?.Properties).toMatchObject({
      Handler: "index.handler",
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Timeout: 30,
      Role: arn(ids.role),
    });
    const queue = template.toJSON().Resources[ids.queue] as Resource;
    expect(queue.Properties.VisibilityTimeout).toBe(180);
  });

  it("lets the function receive and delete from this queue only, and write its own log group, nothing else", () => {
    const logs = Object.keys(template.findResources("AWS::Logs::LogGroup"));
    expect(logs).toHaveLength(1);
    const [fn] = resourcesOf("AWS::Lambda::Function");
    expect(fn?.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: logs[0] } });
    const policies = resourcesOf("AWS::IAM::Policy");
    expect(policies.map((p) => [p.Properties.Roles, p.Properties.PolicyDocument])).toEqual([
      [
        [{ Ref: ids.role }],
        {
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
              Resource: arn(logs[0] as string),
            },
            {
              Effect: "Allow",
              Action: [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
              ],
              Resource: arn(ids.queue),
            },
          ],
        },
      ],
    ]);
    const role = template.toJSON().Resources[ids.role] as Resource;
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Principal: { Service: "lambda.amazonaws.com" } }],
    });
    // No managed policy (AWSLambdaBasicExecutionRole would let it create and write any log group), no inline one.
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties.Policies).toBeUndefined();
    expect(resourcesOf("AWS::IAM::Role")).toHaveLength(1);
  });

  it("finds nothing unacknowledged under cdk-nag AwsSolutionsChecks", () => {
    expect(() => app.synth({ force: true })).not.toThrow();
    const report = JSON.parse(
      readFileSync(join(outdir, "validation-report.json"), "utf8"),
    ) as PolicyValidationReportJson;
    const nag = report.pluginReports.filter((r) => r.pluginName === "AwsSolutions");
    expect(nag.map((r) => [r.conclusion, r.violations])).toEqual([["success", []]]);
    const acknowledged = nag[0]?.suppressedViolations ?? [];
    expect(acknowledged.map((v) => [v.ruleName, v.violatingConstructs.map((c) => c.constructPath)]).sort()).toEqual([
      ["AwsSolutions-L1", ["BillingConsumerExample/Handler/Resource"]],
      ["AwsSolutions-SQS3", ["BillingConsumerExample/Consumer/UndeliveredQueue/Resource"]],
    ]);
  });
});
