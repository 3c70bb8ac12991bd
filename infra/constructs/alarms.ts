import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import type { Construct } from "constructs";

export interface AlarmAboveProps {
  readonly description: string;
  readonly metric: IMetric;
  /** The alarm fires above this; at the first datum above zero by default. */
  readonly threshold?: number;
  /** How many periods in a row must be above it (1: at once). */
  readonly evaluationPeriods?: number;
}

/** hiwari's alarms: one datum (or `evaluationPeriods` in a row) above the threshold; no data is not a breach. */
export function alarmAbove(scope: Construct, id: string, props: AlarmAboveProps): Alarm {
  return new Alarm(scope, id, {
    alarmDescription: props.description,
    metric: props.metric,
    threshold: props.threshold ?? 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: props.evaluationPeriods ?? 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}
