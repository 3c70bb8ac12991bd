import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DYNAMODB_RETRY } from "../dynamodb/retry-settings";
import { tracedClient } from "./traced-client";

/** The functions' DynamoDB client, retrying as DYNAMODB_RETRY says: the refund store's (`storeFromEnvironment`). */
export const dynamoDbClient = tracedClient(() => new DynamoDBClient({ ...DYNAMODB_RETRY }));
