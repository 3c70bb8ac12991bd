import { Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { Archive, EventBus } from "aws-cdk-lib/aws-events";
import { Architecture, Runtime, StartingPosition } from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { EVENT_SOURCE } from "../../shared/events/refund-events";

export interface RefundEventsProps {
  /** The refunds table: its stream is the outbox. */
  readonly refunds: Table;
  /** How long the bus archive keeps events for replay. */
  readonly archiveRetention: Duration;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Billing events: the refunds table's stream → `publish-events` → the `hiwari-refunds` bus, archived for replay.
 *
 * Defaults: the function on ARM64 and nodejs22.x, bundled by the local esbuild (no Docker), ESM, 1 GiB, 1 min;
 * the stream read from the trim horizon in batches of 100, with partial batch failures reported, a failing batch
 * bisected, 10 retries, then the records' coordinates to an encrypted dead-letter queue with an alarm at the
 * first message; an alarm on function errors.
 */
export class RefundEvents extends Construct {
  readonly bus: EventBus;
  readonly publisher: NodejsFunction;
  readonly deadLetters: Queue;
  readonly deadLetterAlarm: Alarm;

  constructor(scope: Construct, id: string, props: RefundEventsProps) {
    super(scope, id);
    this.bus = new EventBus(this, "Bus", { description: `hiwari refund events (source ${EVENT_SOURCE})` });
    new Archive(this, "Archive", {
      sourceEventBus: this.bus,
      eventPattern: { source: [EVENT_SOURCE] },
      retention: props.archiveRetention,
      description: "every hiwari refund event, for replay to a consumer that lost its own copy",
    });

    this.deadLetters = new Queue(this, "PublisherDeadLetters", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });

    this.publisher = new NodejsFunction(this, "PublishEvents", {
      description: "hiwari publish-events: refunds table stream → billing events",
      entry: new URL("../../functions/publish-events/handler.ts", import.meta.url).pathname,
      handler: "handler",
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 1024,
      timeout: Duration.minutes(1),
      environment: { EVENT_BUS_NAME: this.bus.eventBusName, POWERTOOLS_SERVICE_NAME: "hiwari" },
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        // The runtime ships the AWS SDK v3; the handler's clients come from it.
        externalModules: ["@aws-sdk/*"],
        mainFields: ["module", "main"],
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
    });
    this.bus.grantPutEventsTo(this.publisher);
    this.publisher.addEventSource(
      new DynamoEventSource(props.refunds, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: 10,
        onFailure: new SqsDlq(this.deadLetters),
      }),
    );

    // cdk-nag acknowledgements, each with its reason.
    Validations.of(this.deadLetters).acknowledge({
      id: "AwsSolutions::AwsSolutions-SQS3",
      reason:
        "This queue is the dead-letter queue (on-failure destination) of the stream event source; a DLQ of a DLQ only moves the problem.",
    });
    Validations.of(this.publisher).acknowledge({
      id: "AwsSolutions::AwsSolutions-L1",
      reason:
        "The design fixes the Lambda runtime at nodejs22.x (ARM64); moving runtime is a deliberate, tested change.",
    });
    Validations.of(this.publisher).acknowledge({
      id: "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
      reason:
        "Grants only CloudWatch Logs create/put for the function's logs; replaced by a scoped policy with the least-privilege work.",
    });
    Validations.of(this.publisher).acknowledge({
      id: "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
      reason: "dynamodb:ListStreams, granted by the stream event source, supports no resource-level permission.",
    });

    this.deadLetterAlarm = this.alarmOnAny(
      "DeadLettersAlarm",
      "stream records that could not be published: see docs/operations.md",
      this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
    );
    this.alarmOnAny(
      "PublisherErrorsAlarm",
      "publish-events fails: events wait in the stream (24 h)",
      this.publisher.metricErrors({ period: Duration.minutes(5) }),
    );
  }

  /** An alarm at the first datum above zero; no data is not a breach. */
  private alarmOnAny(id: string, alarmDescription: string, metric: IMetric): Alarm {
    return new Alarm(this, id, {
      alarmDescription,
      metric,
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
