import type { APIGatewayProxyResult } from "aws-lambda";

/** A JSON answer of the finance API. */
export function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
    body: `${JSON.stringify(body, null, 2)}\n`,
  };
}

/** An error answer: a message, and for a bad request the problems, each naming its field. */
export const problem = (statusCode: number, message: string, problems?: string[]) =>
  json(statusCode, problems ? { message, problems } : { message });
