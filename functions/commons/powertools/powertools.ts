import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";

/**
 * Powertools, set up once for every function. Logs never carry subscriber or subscription ids: they are
 * personal data, and a refund run's logs are read by operators, not billing.
 */
export const logger = new Logger({ serviceName: "hiwari" });
export const metrics = new Metrics({ namespace: "hiwari", serviceName: "hiwari" });
/** X-Ray traces of each invocation and its AWS calls (disabled outside Lambda, e.g. under `hiwari run`). */
export const tracer = new Tracer({ serviceName: "hiwari" });
