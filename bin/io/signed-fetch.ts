import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { TransientError } from "../../shared/errors";
import { UsageError } from "../usage-error";

/**
 * A request to the finance API, signed with AWS Signature Version 4 for `execute-api`: the API Gateway in front of
 * it authorises every method with IAM, so an unsigned request never reaches a function.
 */

/** AWS credentials, as the standard chain (profile, SSO, environment, instance role) resolves them. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}
export type CredentialProvider = () => Promise<Credentials>;

export interface SignedRequest {
  method: "GET" | "POST";
  url: URL;
  /** JSON text, sent as `application/json`; its SHA-256 is part of the signature, so it cannot be altered unseen. */
  body?: string;
  /** Signing region; else the one in an `execute-api` host name, else AWS_REGION / AWS_DEFAULT_REGION. */
  region?: string;
  /** Default: the standard AWS chain (`defaultProvider()`), loaded only when a request is made. */
  credentials?: CredentialProvider;
  /** Default 30 s: a finance API that does not answer by then is reported, not waited on forever. */
  timeoutMs?: number;
}

export interface SignedAnswer {
  status: number;
  /** The answer's JSON, or its text when it is not JSON (a proxy's HTML page, say). */
  body: unknown;
}

/** The request was not made or got no answer (no credentials, connection refused, timeout): no HTTP status. */
export class RequestFailedError extends TransientError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RequestFailedError";
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The signing region: API Gateway checks it against its own, so a wrong one is refused with 403. */
export function signingRegion(url: URL, region?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (region) return region;
  const m = /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(url.hostname);
  if (m?.[1]) return m[1];
  const fromEnv = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (fromEnv) return fromEnv;
  throw new UsageError(
    `cannot tell the AWS region of ${url.host} from its name: pass --region (or set AWS_REGION), e.g. --region ap-northeast-1`,
  );
}

/** The SDK's credential chain, imported on first use so that commands without network start fast. */
async function defaultCredentials(): Promise<CredentialProvider> {
  const { defaultProvider } = await import("@aws-sdk/credential-provider-node");
  return defaultProvider();
}

/** Signs and sends the request with the global `fetch`; an HTTP error status is an answer, not an exception. */
export async function signedFetch(request: SignedRequest): Promise<SignedAnswer> {
  const { url, method, body } = request;
  const region = signingRegion(url, request.region);
  let credentials: Credentials;
  try {
    credentials = await (request.credentials ?? (await defaultCredentials()))();
  } catch (e) {
    throw new RequestFailedError(
      `no AWS credentials to sign the request with (${(e as Error).message}); ` +
        "set AWS_PROFILE (after `aws sso login`) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
      { cause: e },
    );
  }
  const signer = new SignatureV4({
    service: "execute-api",
    region,
    credentials,
    sha256: Hash.bind(null, "sha256"),
    applyChecksum: false, // execute-api needs no x-amz-content-sha256 header; the body's hash is signed anyway
  });
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const before = query[k];
    query[k] = before === undefined ? v : [before, v].flat();
  }
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query,
    headers: { host: url.host, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body,
  });
  // fetch writes the Host header itself, from the same URL: the value that was signed.
  const { host: _, ...headers } = signed.headers;

  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    const response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    return { status: response.status, body: parseJson(text) };
  } catch (e) {
    throw new RequestFailedError(`no answer to ${method} ${url.origin}${url.pathname}: ${whyNoAnswer(e, timeoutMs)}`, {
      cause: e,
    });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `ECONNREFUSED`, `timed out after 30 s`…: the cause of a failed fetch, in a few words. */
function whyNoAnswer(e: unknown, timeoutMs: number): string {
  if ((e as Error).name === "TimeoutError") return `timed out after ${timeoutMs / 1000} s`;
  // fetch fails with TypeError("fetch failed"); the system error is its cause (or the first of an AggregateError's).
  const cause = (e as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (code === "ENOTFOUND") return "ENOTFOUND (no such host: check --api)";
  return code ?? cause?.message ?? (e as Error).message;
}
