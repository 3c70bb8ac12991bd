import { Duration } from "aws-cdk-lib";
import { AlarmStatusWidget, Dashboard, GraphWidget, type IMetric } from "aws-cdk-lib/aws-cloudwatch";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import type { FinanceApi } from "./finance-api";
import type { RefundEvents } from "./refund-events";
import type { RunPipeline } from "./run-pipeline";

export interface OperationsDashboardProps {
  readonly pipeline: RunPipeline;
  readonly events: RefundEvents;
  readonly api: FinanceApi;
  readonly refunds: Table;
}

/** One page for an operator during a run: runs, batches, writes, events, and every alarm. */
export class OperationsDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const { pipeline, events, api, refunds } = props;
    const period = Duration.minutes(1);
    const graph = (title: string, left: IMetric[]) => new GraphWidget({ title, left, width: 8 });
    this.dashboard = new Dashboard(this, "Dashboard", { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new AlarmStatusWidget({
        title: "alarms",
        width: 24,
        alarms: [
          pipeline.failedRunsAlarm,
          pipeline.proposalsNotReproducedAlarm,
          events.deadLetterAlarm,
          ...events.otherAlarms,
          api.serverErrorsAlarm,
        ],
      }),
    );
    this.dashboard.addWidgets(
      graph("runs", [
        pipeline.stateMachine.metricStarted({ period }),
        pipeline.stateMachine.metricSucceeded({ period }),
        pipeline.stateMachine.metricFailed({ period }),
      ]),
      graph("compute-batch", [
        pipeline.computeBatch.fn.metricInvocations({ period }),
        pipeline.computeBatch.fn.metricErrors({ period }),
        pipeline.computeBatch.fn.metricThrottles({ period }),
      ]),
      graph("refunds table writes", [
        refunds.metricConsumedWriteCapacityUnits({ period }),
        refunds.metric("WriteThrottleEvents", { period, statistic: "Sum" }),
      ]),
    );
    this.dashboard.addWidgets(
      graph("publish-events", [
        events.publisher.metricInvocations({ period }),
        events.publisher.metricErrors({ period }),
        events.publisher.metric("IteratorAge", { period, statistic: "Maximum" }),
      ]),
      graph("events dead letters", [events.deadLetters.metricApproximateNumberOfMessagesVisible({ period })]),
      graph("finance API", [
        api.api.metricCount({ period }),
        api.api.metricClientError({ period }),
        api.api.metricServerError({ period }),
      ]),
    );
  }
}
