import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { describe, expect, it } from "vitest";
import { eventBridgeClient } from "../../../../functions/commons/clients/eventbridge";

describe("eventBridgeClient", () => {
  it("is one EventBridge client, built on first use and the same after", () => {
    // Act
    const client = eventBridgeClient();

    // Assess
    expect(client).toBeInstanceOf(EventBridgeClient);
    expect(eventBridgeClient()).toBe(client);
  });
});
