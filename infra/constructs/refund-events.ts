import { Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import { type Alarm, Metric } from "aws-cdk-lib/aws-cloudwatch";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { Archive, EventBus } from "aws-cdk-lib/aws-events";
import { StartingPosition } from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { EVENT_SOURCE } from "../../shared/events/refund-events";
import { alarmAbove } from "./alarms";
import { HiwariFunction } from "./hiwari-function";

export interface RefundEventsProps {
  /** The refunds table: its stream is the outbox. */
  readonly refunds: Table;
  /** How long the bus archive keeps events for replay. */
  readonly archiveRetention: Duration;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: RetentionDays;
}

/**
 * Billing events: the refunds table's stream, `publish-events`, hiwari's bus (named by CloudFormation: the stack output `EventBusName`), archived for replay.
 *
 * Defaults: the function on ARM64 and nodejs22.x, bundled by the local esbuild (no Docker), ESM, 1 GiB, 1 min;
 * the stream read from the trim horizon in batches of 100, with partial batch failures reported, a failing batch
 * bisected and retried without limit (a record waits up to the stream's 24 hours; PublisherBehindAlarm at 6 h);
 * records that can never become an event EventBridge accepts are parked whole by the publisher itself in an
 * encrypted dead-letter queue, with an alarm at the first message; an alarm on function errors.
 */
export class RefundEvents extends Construct {
  readonly bus: EventBus;
  readonly publisher: NodejsFunction;
  readonly publisherFunction: HiwariFunction;
  readonly deadLetters: Queue;
  readonly deadLetterAlarm: Alarm;
  /** The publisher's own alarms (errors, stream iterator age). */
  readonly otherAlarms: Alarm[] = [];

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

    this.publisherFunction = new HiwariFunction(this, "PublishEvents", {
      entry: "publish-events/handler.ts",
      description: "hiwari publish-events: refunds table stream, billing events",
      timeout: Duration.minutes(1),
      environment: { EVENT_BUS_NAME: this.bus.eventBusName, PARKED_QUEUE_URL: this.deadLetters.queueUrl },
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      otherWildcards: "dynamodb:ListStreams, granted by the stream event source, supports no resource-level permission",
    });
    this.publisher = this.publisherFunction.fn;
    this.bus.grantPutEventsTo(this.publisher);
    this.publisher.addEventSource(
      new DynamoEventSource(props.refunds, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        // No retry limit and no age limit: a record the publisher could not publish (EventBridge refusing or down)
        // is retried until it goes out, however long the outage, within the stream's 24 hours (PublisherBehindAlarm
        // goes off at 6). A limit would send it to the queue below as coordinates only, its event lost with the
        // stream. Poison records do not hold the shard: the publisher parks them in that queue whole. The queue
        // still takes whatever the mapping gives up on (a record that expired unpublished).
        onFailure: new SqsDlq(this.deadLetters),
      }),
    );

    // cdk-nag acknowledgements, each with its reason.
    Validations.of(this.deadLetters).acknowledge({
      id: "AwsSolutions::AwsSolutions-SQS3",
      reason:
        "This queue is the dead-letter queue (on-failure destination) of the stream event source; a DLQ of a DLQ only moves the problem.",
    });

    this.deadLetterAlarm = alarmAbove(this, "DeadLettersAlarm", {
      description: "stream records that could not be published: see docs/operations.md",
      metric: this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
    });
    this.otherAlarms.push(
      alarmAbove(this, "PublisherErrorsAlarm", {
        description: "publish-events fails: events wait in the stream (24 h)",
        metric: this.publisher.metricErrors({ period: Duration.minutes(5) }),
      }),
      // Throttled or refused entries are retried and then reported as batch item failures, not as function
      // errors: the publisher's own metric counts them. Sustained for 15 minutes, events are falling behind.
      alarmAbove(this, "PublisherRecordsFailedAlarm", {
        description:
          "stream records not published for 15 minutes (throttling or an EventBridge outage): see docs/operations.md",
        metric: new Metric({
          namespace: "hiwari",
          metricName: "RecordsFailed",
          dimensionsMap: { service: "hiwari" },
          statistic: "Sum",
          period: Duration.minutes(5),
        }),
        evaluationPeriods: 3,
      }),
      alarmAbove(this, "PublisherBehindAlarm", {
        description:
          "publish-events is more than 6 h behind the stream, which keeps records 24 h: see docs/operations.md",
        metric: this.publisher.metric("IteratorAge", { period: Duration.minutes(5), statistic: "Maximum" }),
        threshold: 6 * 60 * 60 * 1000,
      }),
    );
  }
}
