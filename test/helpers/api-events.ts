import type { APIGatewayProxyEvent } from "aws-lambda";

export const ALICE = "arn:aws:iam::123456789012:user/alice";
export const BOB = "arn:aws:iam::123456789012:user/bob";
export const CAROL = "arn:aws:iam::123456789012:user/carol";

/**
 * A request as API Gateway's Lambda proxy integration (REST API, IAM auth) delivers it: the caller's verified
 * identity in `requestContext.identity` (`userArn`, `caller`), whatever the body says.
 */
export function apiEvent(
  httpMethod: "GET" | "POST",
  resource: string,
  pathParameters: Record<string, string>,
  options: { body?: unknown; userArn?: string | null; caller?: string } = {},
): APIGatewayProxyEvent {
  const path = resource.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(pathParameters[name] ?? ""));
  const { body, userArn = ALICE, caller = "AIDAEXAMPLE" } = options;
  return {
    resource,
    path,
    httpMethod,
    headers: { "content-type": "application/json" },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters,
    stageVariables: null,
    isBase64Encoded: false,
    body: body === undefined ? null : typeof body === "string" ? body : JSON.stringify(body),
    requestContext: { identity: { userArn, caller } } as never,
  };
}

/** The status and the parsed body of an answer. */
export const answer = (result: { statusCode: number; body: string }) => ({
  http: result.statusCode,
  body: JSON.parse(result.body),
});
