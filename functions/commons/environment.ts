import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDbRefundStore } from "./dynamodb/dynamodb-refund-store";
import { DYNAMODB_RETRY } from "./dynamodb/retry-settings";
import { tracer } from "./powertools/powertools";
import { requiredEnv } from "./required-env";

export { requiredEnv };

/** The refund store on the deployment's tables (REFUNDS_TABLE, RUNS_TABLE), its DynamoDB client traced and retrying as DYNAMODB_RETRY says. */
export function storeFromEnvironment(): DynamoDbRefundStore {
  return new DynamoDbRefundStore(tracer.captureAWSv3Client(new DynamoDBClient({ ...DYNAMODB_RETRY })), {
    refunds: requiredEnv("REFUNDS_TABLE"),
    runs: requiredEnv("RUNS_TABLE"),
  });
}
