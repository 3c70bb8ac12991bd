import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { dynamoDbClient } from "../../../../functions/commons/clients/dynamodb";

describe("dynamoDbClient", () => {
  it("is one client, retrying as DYNAMODB_RETRY says: standard mode, up to 8 attempts", async () => {
    // Act
    const client = dynamoDbClient();

    // Assess
    expect(client).toBeInstanceOf(DynamoDBClient);
    expect(dynamoDbClient()).toBe(client);
    expect(await client.config.maxAttempts()).toBe(8);
    expect(await client.config.retryStrategy()).toMatchObject({ mode: "standard" });
  });
});
