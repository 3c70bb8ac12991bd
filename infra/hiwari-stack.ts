import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { FinanceApi } from "./constructs/finance-api";
import { OperationsDashboard } from "./constructs/operations-dashboard";
import { RefundEvents } from "./constructs/refund-events";
import { RefundsTable } from "./constructs/refunds-table";
import { RunBucket } from "./constructs/run-bucket";
import { RunPipeline } from "./constructs/run-pipeline";
import { RunsTable } from "./constructs/runs-table";
import type { StageConfig } from "./stage-config";

export interface HiwariStackProps extends StackProps {
  readonly stage: StageConfig;
}

/**
 * Everything hiwari deploys, for one stage. Environment-agnostic (no account or region is read at
 * synth time), so `cdk synth` needs no AWS credentials.
 */
export class HiwariStack extends Stack {
  readonly refunds: RefundsTable;
  readonly runs: RunsTable;
  readonly events: RefundEvents;
  readonly bucket: RunBucket;
  readonly pipeline: RunPipeline;
  readonly api: FinanceApi;

  constructor(scope: Construct, id: string, props: HiwariStackProps) {
    super(scope, id, props);
    const { removalPolicy, deletionProtection } = props.stage;

    this.refunds = new RefundsTable(this, "RefundsTable", { removalPolicy, deletionProtection });
    this.runs = new RunsTable(this, "RunsTable", { removalPolicy, deletionProtection });
    const { logRetention } = props.stage;
    this.events = new RefundEvents(this, "RefundEvents", {
      refunds: this.refunds.table,
      archiveRetention: props.stage.archiveRetention,
      removalPolicy,
      logRetention,
    });
    this.bucket = new RunBucket(this, "RunBucket", {
      removalPolicy,
      noncurrentVersionRetention: props.stage.noncurrentVersionRetention,
    });
    this.pipeline = new RunPipeline(this, "RunPipeline", {
      refunds: this.refunds.table,
      runs: this.runs.table,
      bucket: this.bucket.bucket,
      logRetention,
      removalPolicy,
    });
    this.api = new FinanceApi(this, "FinanceApi", {
      refunds: this.refunds.table,
      runs: this.runs.table,
      bucket: this.bucket.bucket,
      stateMachine: this.pipeline.stateMachine,
      requireProposalForReruns: props.stage.requireProposalForReruns,
      logRetention,
      removalPolicy,
    });
    new OperationsDashboard(this, "Dashboard", {
      pipeline: this.pipeline,
      events: this.events,
      api: this.api,
      refunds: this.refunds.table,
    });

    new CfnOutput(this, "RefundsTableName", {
      description: "Name of the refunds table",
      value: this.refunds.table.tableName,
    });
    new CfnOutput(this, "RefundsTableArn", {
      description: "ARN of the refunds table",
      value: this.refunds.table.tableArn,
    });
    new CfnOutput(this, "RefundsTableStreamArn", {
      description: "ARN of the refunds table stream (the billing-event outbox)",
      value: this.refunds.streamArn,
    });
    new CfnOutput(this, "EventBusName", {
      description: "The bus billing subscribes to (source hiwari.refunds)",
      value: this.events.bus.eventBusName,
    });
    new CfnOutput(this, "FinanceApiUrl", {
      description: "The finance API (IAM auth): hiwari rerun --api <this URL>",
      value: this.api.api.url,
    });
    new CfnOutput(this, "RunBucketName", {
      description: "Put subscription snapshots under snapshots/ in this bucket; runs keep their files under runs/",
      value: this.bucket.bucket.bucketName,
    });
    new CfnOutput(this, "StateMachineArn", {
      description: "The refund run state machine (executions are named by run id)",
      value: this.pipeline.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, "RunsTableName", {
      description: "Name of the runs table",
      value: this.runs.table.tableName,
    });
    new CfnOutput(this, "RunsTableArn", {
      description: "ARN of the runs table",
      value: this.runs.table.tableArn,
    });
  }
}
