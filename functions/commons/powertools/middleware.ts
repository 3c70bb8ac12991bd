import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { LOG_CONTEXT, logger, metrics, tracer } from "./powertools";

/** Every function's wrapper: the Lambda context in each log line (never the event), metrics flushed, the invocation traced. */
export function withPowertools<E, R>(handler: (event: E, context: Context) => Promise<R>) {
  return middy(handler)
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, LOG_CONTEXT))
    .use(logMetrics(metrics));
}
