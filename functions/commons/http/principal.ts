import type { APIGatewayProxyEvent } from "aws-lambda";

/**
 * Who calls the finance API: the IAM principal API Gateway verified (IAM auth, SigV4), `userArn`, else its
 * `caller`; undefined when neither is there. Never a name from the request's body: a body says what anyone writes.
 */
export function principalOf(event: APIGatewayProxyEvent): string | undefined {
  const identity = event.requestContext?.identity;
  return identity?.userArn || identity?.caller || undefined;
}
