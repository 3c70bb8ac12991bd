import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { RefundEvents } from "./constructs/refund-events";
import { RefundsTable } from "./constructs/refunds-table";
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

  constructor(scope: Construct, id: string, props: HiwariStackProps) {
    super(scope, id, props);
    const { removalPolicy, deletionProtection } = props.stage;

    this.refunds = new RefundsTable(this, "RefundsTable", { removalPolicy, deletionProtection });
    this.runs = new RunsTable(this, "RunsTable", { removalPolicy, deletionProtection });
    this.events = new RefundEvents(this, "RefundEvents", {
      refunds: this.refunds.table,
      archiveRetention: props.stage.archiveRetention,
      removalPolicy,
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
