/**
 * How every DynamoDB client hiwari builds retries (on AWS and against DynamoDB Local alike): the SDK's standard
 * strategy, exponential backoff with full jitter (a random wait up to 100 ms × 2^attempt, capped at 20 s) on
 * throttling (`ThrottlingException`, `ProvisionedThroughputExceededException`), 5xx answers and dropped
 * connections, up to 8 attempts in all. The default of 3 gives up within half a second, which a table warming
 * up under a national outage's write rate can outlast. A call still failing after that fails its step, which
 * Step Functions retries again (docs/operations.md). Every write hiwari makes may be repeated safely: see
 * docs/data-model.md, "Faults".
 */
export const DYNAMODB_RETRY = { maxAttempts: 8, retryMode: "standard" } as const;
