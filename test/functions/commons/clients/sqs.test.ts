import { SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { sqsClient } from "../../../../functions/commons/clients/sqs";

describe("sqsClient", () => {
  it("is one SQS client, built on first use and the same after", () => {
    // Act
    const client = sqsClient();

    // Assess
    expect(client).toBeInstanceOf(SQSClient);
    expect(sqsClient()).toBe(client);
  });
});
