import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type CfnResource, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { EventBus } from "aws-cdk-lib/aws-events";
import { AccountRootPrincipal, Role } from "aws-cdk-lib/aws-iam";
import type { PolicyValidationReportJson } from "aws-cdk-lib/cloud-assembly-schema";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BillingConsumer, type BillingConsumerProps } from "../../../infra/constructs/billing-consumer";

// Synthesise with the feature flags `cdk synth` reads from cdk.json.
const cdkJson = JSON.parse(readFileSync(new URL("../../../cdk.json", import.meta.url), "utf8")) as {
  context?: Record<string, unknown>;
};
const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

const arn = (logicalId: string) => ({ "Fn::GetAtt": [logicalId, "Arn"] });

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

/** A test app: a bus and the construct on it, checked by cdk-nag's AWS Solutions rules. */
function build(props: Omit<BillingConsumerProps, "bus"> = {}) {
  const outdir = mkdtempSync(join(tmpdir(), "hiwari-billing-consumer-"));
  outdirs.push(outdir);
  const app = new App({ context: { ...cdkJson.context }, outdir, builtinCloudFormationValidation: false });
  const stack = new Stack(app, "Billing");
  const bus = new EventBus(stack, "Bus");
  const consumer = new BillingConsumer(stack, "Consumer", { bus, ...props });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const id = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnResource);
  const ids = {
    bus: id(bus),
    queue: id(consumer.queue),
    deadLetterQueue: id(consumer.deadLetterQueue),
    undeliveredQueue: id(consumer.undeliveredQueue),
    rule: id(consumer.rule),
  };
  return { app, stack, consumer, outdir, ids, template: () => Template.fromStack(stack) };
}

function resourcesOf(template: Template, type: string): Record<string, Resource> {
  return template.findResources(type) as Record<string, Resource>;
}

function only<T>(items: Record<string, T>): T {
  const values = Object.values(items);
  expect(values).toHaveLength(1);
  return values[0] as T;
}

const ALL_FOUR = ["Refund Calculated", "Refund Adjusted", "Refund Voided", "Refund Run Completed"];

describe("BillingConsumer", () => {
  let template: Template;
  let ids: ReturnType<typeof build>["ids"];
  beforeAll(() => {
    const built = build();
    template = built.template();
    ids = built.ids;
  });

  it("matches source hiwari.refunds and all four detail-types by default, on the given bus", () => {
    const rule = only(resourcesOf(template, "AWS::Events::Rule"));
    expect(rule.Properties.EventBusName).toEqual({ Ref: ids.bus });
    expect(rule.Properties.EventPattern).toEqual({ source: ["hiwari.refunds"], "detail-type": ALL_FOUR });
    expect(rule.Properties.State).toBe("ENABLED");
  });

  it("targets the queue, retrying 185 times over 24 h, then to its own dead-letter queue", () => {
    const rule = only(resourcesOf(template, "AWS::Events::Rule"));
    expect(rule.Properties.Targets).toEqual([
      {
        Id: "Target0",
        Arn: arn(ids.queue),
        DeadLetterConfig: { Arn: arn(ids.undeliveredQueue) },
        RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
      },
    ]);
    expect(ids.undeliveredQueue).not.toBe(ids.deadLetterQueue);
  });

  it("moves a message to the dead-letter queue after 5 receives", () => {
    const queue = resourcesOf(template, "AWS::SQS::Queue")[ids.queue];
    expect(queue?.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: arn(ids.deadLetterQueue),
      maxReceiveCount: 5,
    });
    // the SQS default visibility timeout when none is given
    expect(queue?.Properties.VisibilityTimeout).toBeUndefined();
  });

  it("encrypts all three queues (SQS-managed) and keeps messages 14 days", () => {
    const queues = resourcesOf(template, "AWS::SQS::Queue");
    expect(Object.keys(queues).sort()).toEqual([ids.deadLetterQueue, ids.queue, ids.undeliveredQueue].sort());
    for (const queue of Object.values(queues)) {
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
      expect(queue.Properties.KmsMasterKeyId).toBeUndefined();
      expect(queue.Properties.MessageRetentionPeriod).toBe(1209600);
    }
    // the dead-letter queues have no dead-letter queue of their own
    expect(queues[ids.deadLetterQueue]?.Properties.RedrivePolicy).toBeUndefined();
    expect(queues[ids.undeliveredQueue]?.Properties.RedrivePolicy).toBeUndefined();
  });

  /** The queue policy's statements, by the queue it is on. */
  function queuePolicies() {
    const byQueue = new Map<string, unknown[]>();
    for (const policy of Object.values(resourcesOf(template, "AWS::SQS::QueuePolicy"))) {
      const [queue] = policy.Properties.Queues as { Ref: string }[];
      const document = policy.Properties.PolicyDocument as { Statement: unknown[] };
      byQueue.set(queue?.Ref ?? "?", document.Statement);
    }
    return byQueue;
  }
  const tlsOnly = (queue: string) => ({
    Action: "sqs:*",
    Condition: { Bool: { "aws:SecureTransport": "false" } },
    Effect: "Deny",
    Principal: { AWS: "*" },
    Resource: arn(queue),
  });

  it("lets only this rule send to the queue: events.amazonaws.com, condition aws:SourceArn = the rule's ARN", () => {
    expect(queuePolicies().get(ids.queue)).toEqual([
      tlsOnly(ids.queue),
      {
        Action: ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
        Condition: { ArnEquals: { "aws:SourceArn": arn(ids.rule) } },
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Resource: arn(ids.queue),
      },
    ]);
  });

  it("lets only this rule send to its dead-letter queue, and no one to the consumer's dead-letter queue", () => {
    const policies = queuePolicies();
    expect([...policies.keys()].sort()).toEqual([ids.deadLetterQueue, ids.queue, ids.undeliveredQueue].sort());
    expect(policies.get(ids.undeliveredQueue)).toEqual([
      tlsOnly(ids.undeliveredQueue),
      {
        Action: "sqs:SendMessage",
        Condition: { ArnEquals: { "aws:SourceArn": arn(ids.rule) } },
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Resource: arn(ids.undeliveredQueue),
        Sid: expect.stringMatching(/^AllowEventRule/),
      },
    ]);
    // SQS itself moves messages to a redrive target: no resource policy is needed, and none is granted.
    expect(policies.get(ids.deadLetterQueue)).toEqual([tlsOnly(ids.deadLetterQueue)]);
  });

  it("alarms at the first message in either dead-letter queue; no data is not a breach", () => {
    const alarms = Object.values(resourcesOf(template, "AWS::CloudWatch::Alarm")).map(({ Properties }) => {
      const { AlarmDescription, ...rest } = Properties;
      expect(AlarmDescription).toEqual(expect.stringMatching(/^billing: hiwari refund events /));
      return rest;
    });
    const atFirstMessage = (queue: string) => ({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [queue, "QueueName"] } }],
      Statistic: "Maximum",
      Period: 60,
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 0,
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
    });
    expect(alarms).toEqual([atFirstMessage(ids.deadLetterQueue), atFirstMessage(ids.undeliveredQueue)]);
  });

  it("grants a consumer receive, delete and visibility on the queue only", () => {
    const { stack, consumer, ids, template } = build();
    const role = new Role(stack, "Worker", { assumedBy: new AccountRootPrincipal() });
    consumer.grantConsume(role);
    const policy = only(resourcesOf(template(), "AWS::IAM::Policy"));
    expect((policy.Properties.PolicyDocument as { Statement: unknown[] }).Statement).toEqual([
      {
        Action: [
          "sqs:ChangeMessageVisibility",
          "sqs:DeleteMessage",
          "sqs:GetQueueAttributes",
          "sqs:GetQueueUrl",
          "sqs:ReceiveMessage",
        ],
        Effect: "Allow",
        Resource: arn(ids.queue),
      },
    ]);
  });
});

describe("BillingConsumer options", () => {
  it('narrows the pattern to the given detail-types: ["Refund Run Completed"]', () => {
    const { template } = build({ detailTypes: ["Refund Run Completed"] });
    const rule = only(resourcesOf(template(), "AWS::Events::Rule"));
    expect(rule.Properties.EventPattern).toEqual({
      source: ["hiwari.refunds"],
      "detail-type": ["Refund Run Completed"],
    });
  });

  it("takes maxReceiveCount, visibilityTimeout, removalPolicy and consumerName", () => {
    const { template, ids } = build({
      maxReceiveCount: 3,
      visibilityTimeout: Duration.minutes(3),
      removalPolicy: RemovalPolicy.RETAIN,
      consumerName: "invoicing",
    });
    const t = template();
    const queues = resourcesOf(t, "AWS::SQS::Queue");
    expect(queues[ids.queue]?.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: arn(ids.deadLetterQueue),
      maxReceiveCount: 3,
    });
    expect(queues[ids.queue]?.Properties.VisibilityTimeout).toBe(180);
    expect(Object.values(queues).map((q) => q.DeletionPolicy)).toEqual(["Retain", "Retain", "Retain"]);
    const rule = only(resourcesOf(t, "AWS::Events::Rule"));
    expect(rule.Properties.Description).toMatch(/^invoicing: /);
  });

  it("refuses an empty detailTypes and a maxReceiveCount below 1", () => {
    expect(() => build({ detailTypes: [] })).toThrow(/detailTypes is empty/);
    expect(() => build({ maxReceiveCount: 0 })).toThrow(/maxReceiveCount must be a positive integer/);
  });
});

describe("BillingConsumer under cdk-nag AwsSolutionsChecks", () => {
  function report(outdir: string) {
    const json = JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")) as PolicyValidationReportJson;
    const [nag, ...others] = json.pluginReports.filter((r) => r.pluginName === "AwsSolutions");
    expect(others).toEqual([]);
    if (!nag) throw new Error("cdk-nag did not run");
    const summary = (violations: typeof nag.violations) =>
      violations.map((v) => ({ rule: v.ruleName, paths: v.violatingConstructs.map((c) => c.constructPath) }));
    return {
      conclusion: nag.conclusion,
      findings: summary(nag.violations),
      acknowledged: summary(nag.suppressedViolations ?? []),
    };
  }

  it("finds nothing unacknowledged; the one acknowledgement is SQS3 on the rule target's dead-letter queue", () => {
    const { app, outdir } = build();
    expect(() => app.synth()).not.toThrow();
    expect(report(outdir)).toEqual({
      conclusion: "success",
      findings: [],
      acknowledged: [{ rule: "AwsSolutions-SQS3", paths: ["Billing/Consumer/UndeliveredQueue/Resource"] }],
    });
  });
});
