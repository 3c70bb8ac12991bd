import { SQSClient } from "@aws-sdk/client-sqs";
import { tracedClient } from "./traced-client";

/** publish-events' SQS client: poison stream records are parked in its dead-letter queue. */
export const sqsClient = tracedClient(() => new SQSClient({}));
