/**
 * How every DynamoDB client hiwari builds retries (on AWS and against DynamoDB Local alike): the SDK's standard
 * strategy, up to 8 attempts with exponential backoff and full jitter (a random wait up to base × 2^attempt,
 * capped at 20 s; base 500 ms after throttling, `ThrottlingException` or `ProvisionedThroughputExceededException`,
 * 100 ms after a 5xx answer or a dropped connection). The default of 3 attempts gives up within a second or two,
 * which a table warming up under a national outage's write rate can outlast.
 *
 * The strategy also keeps a retry quota per client (500 tokens; a retry costs 5, 10 after a timeout; a success
 * without retry gives 1 back): under throttling that does not let up, a container's calls stop retrying after
 * about a hundred retries and fail at once until successes refill it. The call then fails its step, and Step
 * Functions retries the step (6 attempts, backoff from 2 s to 1 min, full jitter): that is the backstop, and every
 * write hiwari makes may be repeated safely (docs/data-model.md, "Faults").
 */
export const DYNAMODB_RETRY = { maxAttempts: 8, retryMode: "standard" } as const;
