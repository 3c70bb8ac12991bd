import { Duration, type RemovalPolicy, Stack, type StackProps, Validations } from "aws-cdk-lib";
import { EventBus } from "aws-cdk-lib/aws-events";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { BillingConsumer, type RefundEventType } from "../../infra/constructs/billing-consumer";
import { BUNDLING } from "../../infra/constructs/hiwari-function";

export interface BillingConsumerStackProps extends StackProps {
  /**
   * The name of hiwari's bus: the `EventBusName` output of the hiwari stack. Required: hiwari's bus has no fixed
   * name (CloudFormation generates it). The rule is created on that bus, so this stack deploys to hiwari's account
   * and region.
   */
  readonly busName: string;
  /** @default all four detail-types */
  readonly detailTypes?: readonly RefundEventType[];
  readonly removalPolicy?: RemovalPolicy;
}

/** The function's timeout; the queue's visibility timeout is six times it, as AWS recommends for Lambda. */
const FUNCTION_TIMEOUT = Duration.seconds(30);

/**
 * What a billing team deploys in its own CDK app: a {@link BillingConsumer} on hiwari's bus and the example
 * consumer (sqs-handler.ts) reading its queue in batches of 10, reporting partial batch failures.
 */
export class BillingConsumerStack extends Stack {
  readonly consumer: BillingConsumer;
  readonly handler: NodejsFunction;

  constructor(scope: Construct, id: string, props: BillingConsumerStackProps) {
    super(scope, id, props);
    const bus = EventBus.fromEventBusName(this, "HiwariBus", props.busName);
    this.consumer = new BillingConsumer(this, "Consumer", {
      bus,
      consumerName: "billing example",
      detailTypes: props.detailTypes,
      removalPolicy: props.removalPolicy,
      visibilityTimeout: Duration.seconds(FUNCTION_TIMEOUT.toSeconds() * 6),
    });

    // The function's own role and log group: it may write its own logs and consume its queue, nothing else (not
    // the AWSLambdaBasicExecutionRole managed policy, which lets it create and write any log group of the account).
    const logGroup = new LogGroup(this, "HandlerLogs", {
      retention: RetentionDays.TWO_YEARS,
      removalPolicy: props.removalPolicy,
    });
    const role = new Role(this, "HandlerRole", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: "example billing consumer: its own logs, and its queue",
    });
    logGroup.grantWrite(role);
    this.handler = new NodejsFunction(this, "Handler", {
      description: "example billing consumer: hiwari refund events from SQS → the ledger",
      entry: new URL("./sqs-handler.ts", import.meta.url).pathname,
      handler: "handler",
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: FUNCTION_TIMEOUT,
      role,
      logGroup,
      bundling: BUNDLING, // bundled as hiwari bundles its own functions
    });
    // The event source grants the function receive, delete, change visibility and get attributes/URL on the
    // queue, and nothing else (BillingConsumer.grantConsume is for consumers that are not Lambda functions).
    this.handler.addEventSource(
      new SqsEventSource(this.consumer.queue, { batchSize: 10, reportBatchItemFailures: true }),
    );

    // cdk-nag acknowledgements, each with its reason.
    Validations.of(this.handler).acknowledge({
      id: "AwsSolutions::AwsSolutions-L1",
      reason: "The example pins nodejs22.x (ARM64), as hiwari's own functions do; moving runtime is a tested change.",
    });
  }
}
