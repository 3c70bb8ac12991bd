import { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, BillingMode, TableEncryption, type TableProps } from "aws-cdk-lib/aws-dynamodb";

/** Lifetime settings shared by the hiwari tables; both default to keeping the data. */
export interface HiwariTableProps {
  /**
   * What CloudFormation does with the table when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * DynamoDB deletion protection.
   *
   * @default true
   */
  readonly deletionProtection?: boolean;
}

/** Partition and sort key attribute names of every hiwari table (single-table style, both strings). */
export const PARTITION_KEY = "pk";
export const SORT_KEY = "sk";

/**
 * The settings every hiwari table shares: `pk`/`sk` string keys, on-demand billing, point-in-time
 * recovery (35 days), server-side encryption with the AWS managed key `aws/dynamodb` (no key of our
 * own to administer, and every use is in CloudTrail). No fixed table name, so CloudFormation can
 * replace a table and two stages can share an account.
 *
 * For `dynamodb.Table` (AWS::DynamoDB::Table), not `TableV2` (AWS::DynamoDB::GlobalTable): the
 * tables live in one region, and cdk-nag's DynamoDB rules only inspect AWS::DynamoDB::Table.
 */
export function hiwariTableProps(props: HiwariTableProps): TableProps {
  return {
    partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
    sortKey: { name: SORT_KEY, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: TableEncryption.AWS_MANAGED,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    deletionProtection: props.deletionProtection ?? true,
  };
}
