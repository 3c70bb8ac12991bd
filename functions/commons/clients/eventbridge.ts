import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { tracedClient } from "./traced-client";

/** publish-events' EventBridge client: a call that hangs gives up after 5 s (the SDK retries it). */
export const eventBridgeClient = tracedClient(
  () => new EventBridgeClient({ requestHandler: { requestTimeout: 5_000 } }),
);
