import { AttributeType, ProjectionType, StreamViewType, Table } from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { type HiwariTableProps, hiwariTableProps } from "./table-defaults";

export type RefundsTableProps = HiwariTableProps;

/**
 * The refunds DynamoDB table, holding the computed refunds.
 *
 * Defaults (none of them configurable except the two lifetime settings):
 * - keys `pk` (S) / `sk` (S);
 * - on-demand billing (PAY_PER_REQUEST), point-in-time recovery on;
 * - server-side encryption with the AWS managed key `aws/dynamodb`;
 * - stream with NEW_AND_OLD_IMAGES: the stream is the outbox that becomes billing events, so a
 *   consumer sees both what a refund was and what it became;
 * - one global secondary index `gsi1` (`gsi1pk` S / `gsi1sk` S, all attributes projected) for
 *   per-incident queries through sharded keys;
 * - `removalPolicy` RETAIN and `deletionProtection` true unless given.
 */
export class RefundsTable extends Construct {
  static readonly GSI1_NAME = "gsi1";
  static readonly GSI1_PARTITION_KEY = "gsi1pk";
  static readonly GSI1_SORT_KEY = "gsi1sk";

  readonly table: Table;
  /** ARN of the table's stream (the outbox). */
  readonly streamArn: string;

  constructor(scope: Construct, id: string, props: RefundsTableProps = {}) {
    super(scope, id);
    this.table = new Table(this, "Table", {
      ...hiwariTableProps(props),
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: RefundsTable.GSI1_NAME,
      partitionKey: { name: RefundsTable.GSI1_PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: RefundsTable.GSI1_SORT_KEY, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    const streamArn = this.table.tableStreamArn;
    if (streamArn === undefined) throw new Error("RefundsTable: the table has no stream");
    this.streamArn = streamArn;
  }
}
