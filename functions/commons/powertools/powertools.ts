import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { maskIdentifiers } from "./mask-identifiers";

/**
 * Powertools, set up once for every function. Logs never carry subscriber or subscription ids: they are
 * personal data, and a refund run's logs are read by operators, not billing. Any attribute named like one is
 * masked all the same (docs/security.md), and no invocation event is ever logged (see `LOG_CONTEXT`).
 */
export const logger = new Logger({ serviceName: "hiwari", jsonReplacerFn: maskIdentifiers });
/**
 * Metrics' own warnings (an invocation that recorded no metric) go through the logger, at its level: a structured
 * WARN on Lambda, nothing under `hiwari run` (whose log level is ERROR), not a bare line on the console.
 */
export const metrics = new Metrics({ namespace: "hiwari", serviceName: "hiwari", logger });
/** X-Ray traces of each invocation and its AWS calls (disabled outside Lambda, e.g. under `hiwari run`). */
export const tracer = new Tracer({ serviceName: "hiwari" });

/**
 * The logger middleware's options. `logEvent: false` wins over POWERTOOLS_LOGGER_LOG_EVENT: the events hold
 * subscriber data (stream records are refund lines, a run request names the snapshot), so no setting of a
 * deployment may print them.
 */
export const LOG_CONTEXT = { logEvent: false } as const;
