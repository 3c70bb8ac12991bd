import { Duration, type RemovalPolicy, Token, Validations } from "aws-cdk-lib";
import type { Alarm } from "aws-cdk-lib/aws-cloudwatch";
import { type IEventBus, Rule } from "aws-cdk-lib/aws-events";
import { SqsQueue } from "aws-cdk-lib/aws-events-targets";
import type { Grant, IGrantable } from "aws-cdk-lib/aws-iam";
import { type DeadLetterQueue, Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { EVENT_SOURCE, LINE_EVENT_TYPES, type LineEventType, RUN_COMPLETED } from "../../shared/events/refund-events";
import { alarmAbove } from "./alarms";

/** A detail-type hiwari publishes. */
export type RefundEventType = LineEventType | typeof RUN_COMPLETED;

/** Every detail-type hiwari publishes: the default subscription. */
export const ALL_REFUND_EVENT_TYPES: readonly RefundEventType[] = [...LINE_EVENT_TYPES, RUN_COMPLETED];

export interface BillingConsumerProps {
  /** The hiwari bus (in the same account and region as this construct: a rule lives beside its bus). */
  readonly bus: IEventBus;
  /** The detail-types to receive. @default all four: Refund Calculated, Adjusted, Voided, Run Completed */
  readonly detailTypes?: readonly RefundEventType[];
  /** Who consumes, for the rule's and the alarms' descriptions (no physical names are set). @default "billing" */
  readonly consumerName?: string;
  /**
   * Of the three queues. Deleting a queue loses the events in it; the bus's archive can replay them.
   * @default the CDK default for queues: destroy
   */
  readonly removalPolicy?: RemovalPolicy;
  /** Receives of a message before it moves to the dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
  /**
   * Of the queue. A Lambda consumer needs at least its timeout; AWS recommends six times it.
   * @default the SQS default, 30 seconds
   */
  readonly visibilityTimeout?: Duration;
}

/**
 * A billing system's subscription to hiwari's events: a rule on the bus (`source: ["hiwari.refunds"]` and the
 * detail-types) → an SQS queue the consumer reads at its own pace.
 *
 * - The queue (SQS-managed encryption, TLS only, 14 days) moves a message to `deadLetterQueue` after
 *   `maxReceiveCount` receives.
 * - EventBridge retries a delivery it cannot make for 24 h (185 attempts), then puts the event on a dead-letter
 *   queue of its own (`undeliveredQueue`): the queue's DLQ holds what the consumer failed on, this one what never
 *   reached the queue.
 * - The queue policy lets only this rule send (events.amazonaws.com, condition `aws:SourceArn` = the rule's ARN);
 *   the undelivered queue's likewise.
 * - An alarm on each dead-letter queue at its first message; no data is not a breach.
 *
 * Delivery is at least once: the consumer deduplicates on `detail.eventId` (docs/events.md).
 */
export class BillingConsumer extends Construct {
  /** The queue to consume. */
  readonly queue: Queue;
  /** Messages the consumer received `maxReceiveCount` times without deleting them. */
  readonly deadLetterQueue: Queue;
  /** Events EventBridge could not deliver to `queue` within 24 h (185 attempts). */
  readonly undeliveredQueue: Queue;
  readonly rule: Rule;
  /** At the first message in `deadLetterQueue`. */
  readonly deadLetterAlarm: Alarm;
  /** At the first message in `undeliveredQueue`. */
  readonly undeliveredAlarm: Alarm;

  constructor(scope: Construct, id: string, props: BillingConsumerProps) {
    super(scope, id);
    const consumerName = props.consumerName ?? "billing";
    const detailTypes = [...(props.detailTypes ?? ALL_REFUND_EVENT_TYPES)];
    if (detailTypes.length === 0)
      throw new Error("BillingConsumer: detailTypes is empty: the rule would match nothing");
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    if (!Token.isUnresolved(maxReceiveCount) && (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1))
      throw new Error(`BillingConsumer: maxReceiveCount must be a positive integer, not ${maxReceiveCount}`);

    const queueDefaults = {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    };
    this.deadLetterQueue = new Queue(this, "DeadLetterQueue", queueDefaults);
    this.undeliveredQueue = new Queue(this, "UndeliveredQueue", queueDefaults);
    const deadLetterQueue: DeadLetterQueue = { queue: this.deadLetterQueue, maxReceiveCount };
    this.queue = new Queue(this, "Queue", {
      ...queueDefaults,
      deadLetterQueue,
      visibilityTimeout: props.visibilityTimeout,
    });

    this.rule = new Rule(this, "Rule", {
      eventBus: props.bus,
      description: `${consumerName}: hiwari refund events (${detailTypes.join(", ")}) → SQS`,
      eventPattern: { source: [EVENT_SOURCE], detailType: detailTypes },
    });
    // The target grants events.amazonaws.com sqs:SendMessage on the queue with the condition aws:SourceArn = this
    // rule (the queue has no KMS key), and the same on the undelivered queue.
    this.rule.addTarget(
      new SqsQueue(this.queue, {
        deadLetterQueue: this.undeliveredQueue,
        maxEventAge: Duration.hours(24),
        retryAttempts: 185,
      }),
    );

    // cdk-nag acknowledgements, each with its reason. (cdk-nag sees that deadLetterQueue is the queue's DLQ from
    // the queue's redrive policy, and finds nothing on it; a rule target's DLQ it does not recognise.)
    Validations.of(this.undeliveredQueue).acknowledge({
      id: "AwsSolutions::AwsSolutions-SQS3",
      reason:
        "This queue is the dead-letter queue of the EventBridge rule's target (events it could not deliver); a DLQ of a DLQ only moves the problem. It alarms at its first message.",
    });

    this.deadLetterAlarm = this.alarmAtFirstMessage(
      "DeadLetterAlarm",
      this.deadLetterQueue,
      `${consumerName}: hiwari refund events the consumer failed on ${maxReceiveCount} times; fix, then redrive them to the queue`,
    );
    this.undeliveredAlarm = this.alarmAtFirstMessage(
      "UndeliveredAlarm",
      this.undeliveredQueue,
      `${consumerName}: hiwari refund events EventBridge could not deliver to the queue within 24 h; fix, then send them to the queue`,
    );
  }

  /** Lets `grantee` receive, delete and change the visibility of the queue's messages (the queue only). */
  grantConsume(grantee: IGrantable): Grant {
    return this.queue.grantConsumeMessages(grantee);
  }

  /** An alarm at the first visible message; no data is not a breach. */
  private alarmAtFirstMessage(id: string, queue: Queue, description: string): Alarm {
    return alarmAbove(this, id, {
      description,
      metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
    });
  }
}
