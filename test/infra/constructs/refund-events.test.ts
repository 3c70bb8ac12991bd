import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Match, Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHiwariApp } from "../../../infra/hiwari-app";
import { grantsOf } from "../template-helpers";

const cdkJson = JSON.parse(readFileSync(new URL("../../../cdk.json", import.meta.url), "utf8")) as {
  context?: Record<string, unknown>;
};
let outdir: string;
let template: Template;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "hiwari-events-"));
  const { stack } = createHiwariApp({
    // Not bundled (as in synthApp): the template is what is asserted.
    context: { ...cdkJson.context, stage: "prod", "aws:cdk:bundling-stacks": [] },
    outdir,
    builtinCloudFormationValidation: false,
  });
  template = Template.fromStack(stack);
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const ref = (logicalIdPrefix: string) => {
  const [id] = Object.keys(template.toJSON().Resources).filter((k) => k.startsWith(logicalIdPrefix));
  if (!id) throw new Error(`no resource ${logicalIdPrefix}`);
  return id;
};

describe("RefundEvents", () => {
  it("runs publish-events on ARM64 and nodejs22.x", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Environment: {
        Variables: Match.objectLike({
          EVENT_BUS_NAME: { Ref: ref("RefundEventsBus") },
          PARKED_QUEUE_URL: { Ref: ref("RefundEventsPublisherDeadLetters") },
        }),
      },
    });
  });

  it("reads the refunds stream with partial batch failures, bisection, retries until a record goes out, and a dead-letter queue", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [ref("RefundsTable"), "StreamArn"] },
      StartingPosition: "TRIM_HORIZON",
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: Match.absent(), // -1: until it goes out (or the stream drops it after 24 h)
      MaximumRecordAgeInSeconds: Match.absent(),
      DestinationConfig: {
        OnFailure: { Destination: { "Fn::GetAtt": [ref("RefundEventsPublisherDeadLetters"), "Arn"] } },
      },
    });
    template.hasResourceProperties("AWS::SQS::Queue", { SqsManagedSseEnabled: true });
  });

  it("grants the publisher exactly what it uses, on exactly its resources", () => {
    expect(grantsOf(template, "RefundEventsPublishEventsRole")).toEqual([
      "Allow dynamodb:DescribeStream on RefundsTable.StreamArn",
      "Allow dynamodb:GetRecords on RefundsTable.StreamArn",
      "Allow dynamodb:GetShardIterator on RefundsTable.StreamArn",
      "Allow dynamodb:ListStreams on *",
      "Allow events:PutEvents on RefundEventsBus.Arn",
      "Allow logs:CreateLogStream on RefundEventsPublishEventsLogs.Arn",
      "Allow logs:PutLogEvents on RefundEventsPublishEventsLogs.Arn",
      "Allow sqs:GetQueueAttributes on RefundEventsPublisherDeadLetters.Arn",
      "Allow sqs:GetQueueUrl on RefundEventsPublisherDeadLetters.Arn",
      "Allow sqs:SendMessage on RefundEventsPublisherDeadLetters.Arn",
      "Allow xray:PutTelemetryRecords on *",
      "Allow xray:PutTraceSegments on *",
    ]);
  });

  it("archives every hiwari event for replay (400 days in prod)", () => {
    template.hasResourceProperties("AWS::Events::Archive", {
      SourceArn: { "Fn::GetAtt": [ref("RefundEventsBus"), "Arn"] },
      EventPattern: { source: ["hiwari.refunds"] },
      RetentionDays: 400,
    });
  });

  it("alarms when records fail to publish for 15 minutes, and when the publisher is 6 h behind the stream", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "RecordsFailed",
      Namespace: "hiwari",
      Dimensions: [{ Name: "service", Value: "hiwari" }],
      EvaluationPeriods: 3,
      Period: 300,
      Threshold: 0,
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "IteratorAge",
      Statistic: "Maximum",
      Threshold: 6 * 60 * 60 * 1000,
    });
  });

  it("alarms at the first dead letter and on publisher errors", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateNumberOfMessagesVisible",
      Threshold: 0,
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "Errors",
      Namespace: "AWS/Lambda",
      Threshold: 0,
    });
  });
});
