import { dynamoDbClient } from "./clients/dynamodb";
import { DynamoDbRefundStore } from "./dynamodb/dynamodb-refund-store";
import { requiredEnv } from "./required-env";

export { requiredEnv };

/** The refund store on the deployment's tables (REFUNDS_TABLE, RUNS_TABLE), on the container's one DynamoDB client (`dynamoDbClient`). */
export function storeFromEnvironment(): DynamoDbRefundStore {
  return new DynamoDbRefundStore(dynamoDbClient(), {
    refunds: requiredEnv("REFUNDS_TABLE"),
    runs: requiredEnv("RUNS_TABLE"),
  });
}
