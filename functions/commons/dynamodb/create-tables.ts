import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import type { TableNames } from "./dynamodb-refund-store";
import { KEYS } from "./line-item";

/**
 * The CreateTable inputs of the refunds and runs tables, as the CDK app declares them (keys, index, stream): what
 * DynamoDB Local can honour of infra/constructs/refunds-table.ts and runs-table.ts. Point-in-time recovery,
 * encryption and deletion protection are left out: they guard data on AWS, and a local table holds none worth it.
 * test/functions/commons/dynamodb/create-tables.test.ts holds the two to each other through the synthesised
 * template.
 */
export function tableDefinitions(tables: TableNames): CreateTableCommandInput[] {
  const keys = {
    AttributeDefinitions: [
      { AttributeName: KEYS.pk, AttributeType: "S" as const },
      { AttributeName: KEYS.sk, AttributeType: "S" as const },
    ],
    KeySchema: [
      { AttributeName: KEYS.pk, KeyType: "HASH" as const },
      { AttributeName: KEYS.sk, KeyType: "RANGE" as const },
    ],
    BillingMode: "PAY_PER_REQUEST" as const,
  };
  return [
    {
      TableName: tables.refunds,
      ...keys,
      AttributeDefinitions: [
        ...keys.AttributeDefinitions,
        { AttributeName: KEYS.gsi1pk, AttributeType: "S" as const },
        { AttributeName: KEYS.gsi1sk, AttributeType: "S" as const },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: KEYS.gsi1,
          KeySchema: [
            { AttributeName: KEYS.gsi1pk, KeyType: "HASH" as const },
            { AttributeName: KEYS.gsi1sk, KeyType: "RANGE" as const },
          ],
          Projection: { ProjectionType: "ALL" as const },
        },
      ],
      StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" as const },
    },
    { TableName: tables.runs, ...keys },
  ];
}

/**
 * Creates the refunds and runs tables ({@link tableDefinitions}) on DynamoDB Local, those not there yet: one
 * ListTables (a few milliseconds) rather than a refused CreateTable per table, the first of which costs the fresh
 * JVM about a tenth of a second. On AWS the tables come from infra/; an existing table is left as it is (a table
 * created meanwhile by another client, ResourceInUseException, too).
 */
export async function createTables(client: DynamoDBClient, tables: TableNames): Promise<void> {
  const existing = new Set<string>();
  let start: string | undefined;
  do {
    const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    for (const name of page.TableNames ?? []) existing.add(name);
    start = page.LastEvaluatedTableName;
  } while (start);
  for (const definition of tableDefinitions(tables)) {
    if (existing.has(definition.TableName ?? "")) continue;
    try {
      await client.send(new CreateTableCommand(definition));
    } catch (e) {
      if (!(e instanceof ResourceInUseException)) throw e;
    }
  }
}
