import { randomUUID } from "node:crypto";
import { parseRunRequest, parseS3Uri, RunRequestError } from "../../shared/api/run-request";
import type { RunRecord } from "../../shared/store/refund-store";
import { runSummary } from "../format";
import {
  RequestFailedError,
  type SignedAnswer,
  type SignedRequest,
  signedFetch,
  signingRegion,
} from "../io/signed-fetch";
import { EXIT, UsageError } from "../usage-error";
import { readIncidentText } from "./compute";

/**
 * `hiwari rerun --api` and `hiwari api-runs`: finance asks the deployed finance API to run an incident and reads its
 * runs. Requests are signed with the caller's AWS credentials (the API authorises with IAM); the request body is
 * validated here first with the API's own schema, so a mistake is named field by field without a round trip.
 */

/** How to reach the API; the defaults (AWS credential chain, 30 s) are what the command line uses. */
export type Connection = Pick<SignedRequest, "credentials" | "timeoutMs">;

export interface RerunOptions {
  api: string;
  incident: string;
  snapshot: string;
  snapshotVersion?: string;
  reason: string;
  dryRun?: boolean;
  batchSize?: string;
  requestId?: string;
  region?: string;
  json?: boolean;
}

export interface ApiRunsOptions {
  api: string;
  incidentId: string;
  runId?: string;
  region?: string;
  json?: boolean;
}

/** The API's answer to a run request (202 started now, 200 the same request seen before). */
interface RunAnswer {
  runId: string;
  incidentId: string;
  status: string;
  links?: { self?: string };
}

/** `hiwari rerun --api`: asks the finance API to run (or rerun) an incident. Returns the exit status. */
export async function rerun(options: RerunOptions, connection: Connection = {}): Promise<number> {
  const api = apiUrl(options.api);
  const document = readIncidentDocument(options.incident);
  const snapshot = parseS3Uri(options.snapshot);
  if (!snapshot) throw new UsageError(`--snapshot: must be s3://bucket/key (got ${JSON.stringify(options.snapshot)})`);
  if (options.snapshotVersion !== undefined) snapshot.versionId = options.snapshotVersion;
  const requestId = options.requestId ?? randomUUID();
  const body = {
    requestId,
    incident: document,
    snapshot,
    reason: options.reason,
    dryRun: Boolean(options.dryRun),
    ...(options.batchSize === undefined ? {} : { batchSize: wholeNumber("--batch-size", options.batchSize) }),
  };
  const incidentId = (document as { incidentId?: unknown } | null)?.incidentId;
  try {
    parseRunRequest(typeof incidentId === "string" ? incidentId : "", body);
  } catch (e) {
    if (e instanceof RunRequestError)
      throw new UsageError(e.problems.map((p) => localProblem(p, options)).join("\n"), { cause: e });
    throw e;
  }
  const path = `incidents/${encodeURIComponent(incidentId as string)}/runs`;
  signingRegion(api, options.region); // a usage error before the request id is printed, as every other one is
  // Printed before sending: if the answer is lost (timeout, network), the same id retries without a second run.
  if (options.requestId === undefined)
    process.stderr.write(
      `hiwari: request id ${requestId}; to retry this same request safely, pass --request-id ${requestId}\n`,
    );

  return call(
    { method: "POST", url: endpoint(api, path), body: JSON.stringify(body), region: options.region },
    connection,
    (answer) => {
      const run = answer.body as RunAnswer;
      if ((answer.status !== 200 && answer.status !== 202) || typeof run?.runId !== "string") return undefined;
      const started = answer.status === 202;
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ requestId, started, ...run }, null, 2)}\n`);
        return EXIT.ok;
      }
      process.stdout.write(
        `run ${run.runId} of incident ${run.incidentId}${body.dryRun ? " (dry run)" : ""}: ` +
          `${started ? "started now" : "found: this request was made before, nothing new was started"} (status ${run.status})\n` +
          `  follow it: hiwari api-runs --api ${options.api} --incident-id ${run.incidentId} --run-id ${run.runId}\n`,
      );
      return EXIT.ok;
    },
    `retrying with --request-id ${requestId} is safe: the same request never starts a second run`,
  );
}

/** `hiwari api-runs`: an incident's runs as the finance API stores them, or one run with `--run-id`. */
export async function apiRuns(options: ApiRunsOptions, connection: Connection = {}): Promise<number> {
  const api = apiUrl(options.api);
  const path = `incidents/${encodeURIComponent(options.incidentId)}/runs${options.runId === undefined ? "" : `/${encodeURIComponent(options.runId)}`}`;
  return call({ method: "GET", url: endpoint(api, path), region: options.region }, connection, (answer) => {
    if (answer.status !== 200) return undefined;
    const list: RunRecord[] | undefined =
      options.runId === undefined ? (answer.body as { runs?: RunRecord[] })?.runs : [answer.body as RunRecord];
    if (!Array.isArray(list) || !list.every((r) => typeof r?.runId === "string")) return undefined;
    if (options.json) {
      process.stdout.write(`${JSON.stringify(options.runId === undefined ? list : list[0], null, 2)}\n`);
    } else if (list.length === 0) {
      process.stdout.write(`no runs of incident ${options.incidentId} at ${options.api}\n`);
    } else {
      process.stdout.write(list.map((r) => runSummary(r, options.runId !== undefined)).join(""));
    }
    return EXIT.ok;
  });
}

/**
 * Sends the request and prints the outcome. `onAnswer` handles the answers it expects and returns the exit status;
 * for any other (undefined) the status and the API's message are printed on one line. `retry` is said when the
 * outcome is unknown (no answer, 5xx): the request may or may not have been done.
 */
async function call(
  request: SignedRequest,
  connection: Connection,
  onAnswer: (answer: SignedAnswer) => number | undefined,
  retry?: string,
): Promise<number> {
  let answer: SignedAnswer;
  try {
    answer = await signedFetch({ ...request, ...connection });
  } catch (e) {
    if (!(e instanceof RequestFailedError)) throw e;
    process.stderr.write(`hiwari: ${e.message}${retry ? `; ${retry}` : ""}\n`);
    return EXIT.failure;
  }
  const handled = onAnswer(answer);
  if (handled !== undefined) return handled;
  const { status, body } = answer;
  const problems = (body as { problems?: unknown })?.problems;
  if (status === 400 && Array.isArray(problems)) {
    process.stderr.write(
      `hiwari: the finance API refused the request (HTTP 400): ${messageOf(body)}\n${problems.map((p) => `  ${p}\n`).join("")}`,
    );
    return EXIT.usage;
  }
  const hint =
    status === 403
      ? "check the AWS credentials (AWS_PROFILE), --region and the --api URL with its stage (e.g. /prod)"
      : status >= 500
        ? retry
        : status < 300
          ? "an answer this command does not understand"
          : undefined;
  const message = messageOf(body);
  process.stderr.write(
    `hiwari: the finance API answered HTTP ${status}: ${hint ? `${message.replace(/\.$/, "")}; ${hint}` : message}\n`,
  );
  // 400, 404, 409: the request as it stands cannot be done (change it, or use a new request id). Anything else
  // (403 access, 5xx, throttling) may succeed later or with other credentials: a failure, not a usage error.
  return status === 400 || status === 404 || status === 409 ? EXIT.usage : EXIT.failure;
}

/**
 * The first line of the API's `message` (API Gateway appends the canonical request it expected to a signature
 * mismatch: for developers, not for this one-line report), or of an answer that is not the API's JSON.
 */
function messageOf(body: unknown): string {
  const message = (body as { message?: unknown })?.message;
  const text = typeof message === "string" ? message : typeof body === "string" ? body : JSON.stringify(body);
  return text?.trim().split("\n")[0]?.slice(0, 300) || "(no message)";
}

function apiUrl(text: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {}
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:"))
    throw new UsageError(
      `--api: must be the API's URL with its stage, like https://abc123.execute-api.ap-northeast-1.amazonaws.com/prod (got ${JSON.stringify(text)})`,
    );
  return url;
}

/** `path` under the API's base URL, which may carry a stage (`/prod`), with or without a trailing slash. */
function endpoint(api: URL, path: string): URL {
  const url = new URL(api);
  url.pathname = `${api.pathname.replace(/\/+$/, "")}/${path}`;
  url.search = "";
  return url;
}

/** The incident file's JSON document, sent as it is; the API validates it again. */
function readIncidentDocument(path: string): unknown {
  const text = readIncidentText(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

function wholeNumber(option: string, text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`${option}: must be a whole number (got ${JSON.stringify(text)})`);
  return Number(text);
}

/** The option that sets each field of the body (by its path, else by its first name). */
const OPTION_OF: Record<string, string> = {
  requestId: "--request-id",
  "snapshot.versionId": "--snapshot-version",
  snapshot: "--snapshot",
  reason: "--reason",
  batchSize: "--batch-size",
};

/**
 * A problem of the body, named as the user wrote it: an incident field with the file (as `hiwari compute` does,
 * `incident.json: policy.dayBasis: …`), any other field with its option (`snapshot.bucket (--snapshot): …`).
 */
function localProblem(problem: string, options: RerunOptions): string {
  const incident = /^incident(?:\.|: )(.*)$/s.exec(problem);
  if (incident) return `${options.incident}: ${incident[1]}`;
  const field = /^(([A-Za-z]+)[^:]*): (.*)$/s.exec(problem);
  const option = field && (OPTION_OF[field[1] as string] ?? OPTION_OF[field[2] as string]);
  return option ? `${field[1]} (${option}): ${field[3]}` : problem;
}
