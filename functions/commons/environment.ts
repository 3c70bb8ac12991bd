import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDbRefundStore } from "./dynamodb/dynamodb-refund-store";
import { DYNAMODB_RETRY } from "./dynamodb/retry-settings";
import { tracer } from "./powertools/powertools";

/** A setting CDK gives the function; missing means a broken deployment, said by name. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment: ${name} is not set`);
  return value;
}

/** The refund store on the deployment's tables (REFUNDS_TABLE, RUNS_TABLE), its DynamoDB client traced and retrying as DYNAMODB_RETRY says. */
export function storeFromEnvironment(): DynamoDbRefundStore {
  return new DynamoDbRefundStore(tracer.captureAWSv3Client(new DynamoDBClient({ ...DYNAMODB_RETRY })), {
    refunds: requiredEnv("REFUNDS_TABLE"),
    runs: requiredEnv("RUNS_TABLE"),
  });
}
