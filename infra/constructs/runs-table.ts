import { Table } from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { type HiwariTableProps, hiwariTableProps } from "./table-defaults";

export type RunsTableProps = HiwariTableProps;

/**
 * The runs DynamoDB table, holding the records of refund computation runs.
 *
 * Defaults (none of them configurable except the two lifetime settings):
 * - keys `pk` (S) / `sk` (S), no secondary index;
 * - on-demand billing (PAY_PER_REQUEST), point-in-time recovery on;
 * - server-side encryption with the AWS managed key `aws/dynamodb`;
 * - no stream;
 * - `removalPolicy` RETAIN and `deletionProtection` true unless given.
 */
export class RunsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: RunsTableProps = {}) {
    super(scope, id);
    this.table = new Table(this, "Table", hiwariTableProps(props));
  }
}
