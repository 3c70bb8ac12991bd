import * as z from "zod";
import { PermanentError } from "../errors";
import {
  formatPath,
  INCIDENT_TOO_LARGE,
  type Incident,
  IncidentError,
  MAX_INCIDENT_BYTES,
  parseIncident,
} from "../input/incident";

/**
 * The finance API's request to run (or rerun) an incident: `POST /incidents/{incidentId}/runs`.
 * The same schema validates the request in `start-run` and before `hiwari rerun --api` sends it.
 */

/** Where snapshots live in the run bucket: the only objects a run may read as its snapshot. */
export const SNAPSHOTS_PREFIX = "snapshots/";

/** Rows per batch (one slice of the snapshot): a batch must end well inside the compute function's time limit. */
export const DEFAULT_BATCH_SIZE = 1000;
/** Rows per batch at least: fewer would make a run of small batches, each with its fixed cost (books, a record). */
export const MIN_BATCH_SIZE = 100;
/** Rows per batch at most: a batch of 2,000 rows ends well inside the compute function's 2 minutes (its rejects go to the run's files). */
export const MAX_BATCH_SIZE = 2_000;

/** An S3 object: the subscriptions snapshot. `versionId` pins it (the bucket is versioned); latest when absent. */
export const S3LocationSchema = z.strictObject({
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name"),
  key: z.string().min(1, "is required").max(1024, "must be at most 1,024 characters"),
  versionId: z.string().min(1).max(1024).optional(),
});
export type S3Location = z.infer<typeof S3LocationSchema>;

export const RunRequestBodySchema = z.strictObject({
  /** The client's idempotency key: the same key for the same incident finds the same run. */
  requestId: z
    .string({ error: "is required" })
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1 to 128 letters, digits or . _ : -"),
  /** The incident document, as `hiwari compute` reads it from a file. */
  incident: z.unknown(),
  snapshot: S3LocationSchema,
  reason: z.string({ error: "is required" }).trim().min(1, "is required").max(1000, "must be at most 1,000 characters"),
  dryRun: z.boolean().default(false),
  batchSize: z.number().int().min(MIN_BATCH_SIZE).max(MAX_BATCH_SIZE).default(DEFAULT_BATCH_SIZE),
});
export type RunRequestBody = z.input<typeof RunRequestBodySchema>;

export interface ValidRunRequest {
  requestId: string;
  incident: Incident;
  /** The incident document as sent, re-serialised: what the run records and digests. */
  incidentDocument: unknown;
  snapshot: S3Location;
  reason: string;
  dryRun: boolean;
  batchSize: number;
}

/** Thrown for a request that cannot be run; `problems` name each field (`incident.suspensions[0].end: …`). */
export class RunRequestError extends PermanentError {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "RunRequestError";
  }
}

/**
 * Validates a run request for the incident named in the path. Every problem is reported at once, each with
 * the path of its field in the body.
 */
export function parseRunRequest(incidentId: string, body: unknown): ValidRunRequest {
  const result = RunRequestBodySchema.safeParse(body);
  const problems: string[] = [];
  if (!result.success) {
    for (const i of result.error.issues)
      problems.push(`${formatPath(i.path).replace("(the incident)", "(the body)")}: ${i.message}`);
  }
  let incident: Incident | undefined;
  const document = (body as { incident?: unknown } | null)?.incident;
  if (document === undefined) {
    if (!problems.some((p) => p.startsWith("incident:"))) problems.push("incident: is required");
  } else if (new TextEncoder().encode(JSON.stringify(document)).length > MAX_INCIDENT_BYTES) {
    // The same limit as an incident file's (API Gateway's own is 10 MB a body).
    problems.push(`incident: is ${INCIDENT_TOO_LARGE} (as JSON)`);
  } else {
    try {
      incident = parseIncident(document);
      if (incident.incidentId !== incidentId)
        problems.push(
          `incident.incidentId: is ${JSON.stringify(incident.incidentId)}, but the path names ${JSON.stringify(incidentId)}`,
        );
    } catch (e) {
      if (!(e instanceof IncidentError)) throw e;
      for (const p of e.problems)
        problems.push(p.startsWith("(the incident)") ? `incident${p.slice(14)}` : `incident.${p}`);
    }
  }
  if (problems.length > 0 || !result.success || !incident) throw new RunRequestError(problems);
  const data = result.data;
  return {
    requestId: data.requestId,
    incident,
    incidentDocument: document,
    snapshot: data.snapshot,
    reason: data.reason,
    dryRun: data.dryRun,
    batchSize: data.batchSize,
  };
}

/** `s3://bucket/key` (with `?versionId=` when pinned): how a run names its snapshot. */
export function s3Uri(location: S3Location): string {
  const base = `s3://${location.bucket}/${location.key}`;
  return location.versionId ? `${base}?versionId=${encodeURIComponent(location.versionId)}` : base;
}

/** Parses `s3://bucket/key`, as `hiwari rerun --snapshot` takes it. */
export function parseS3Uri(uri: string): S3Location | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m) return undefined;
  return { bucket: m[1] as string, key: m[2] as string };
}

/**
 * Parses a recorded snapshot name pinned to its version, `s3://bucket/key?versionId=…` (as `s3Uri` writes it):
 * undefined for a name without a version (a local file's path, or an S3 object read as its latest version).
 */
export function parsePinnedS3Uri(uri: string): Required<S3Location> | undefined {
  const at = uri.lastIndexOf("?versionId=");
  const location = at < 0 ? undefined : parseS3Uri(uri.slice(0, at));
  const versionId = at < 0 ? "" : decodeURIComponent(uri.slice(at + "?versionId=".length));
  return location && versionId !== "" ? { ...location, versionId } : undefined;
}

/** Where a run's incident document is (an object among its files) and the SHA-256 of its bytes. */
export const IncidentRefSchema = z.strictObject({
  bucket: z.string().min(1),
  key: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type IncidentRef = z.infer<typeof IncidentRefSchema>;

/**
 * What start-run hands the state machine (`StartExecution` input): the recorded request, with the incident
 * by reference and the snapshot pinned to a version. Built from the stored run record, so a retried request starts
 * the execution with the very same input (Step Functions then answers as for the first call).
 */
export const ExecutionInputSchema = z.strictObject({
  incidentId: z.string().min(1),
  runId: z.string().regex(/^run-[0-9a-f]{20}$/),
  requestId: z.string().min(1),
  requestedBy: z.string().min(1),
  reason: z.string().min(1),
  dryRun: z.boolean(),
  batchSize: z.number().int().positive(),
  incidentDigest: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * The incident document by reference: the run's `incident.json` among its files, pinned by the SHA-256 of its
   * bytes. Never the document itself: an incident may be 1 MiB, a state machine's input at most 256 KiB.
   */
  incident: IncidentRefSchema,
  snapshot: S3LocationSchema,
});
export type ExecutionInput = z.infer<typeof ExecutionInputSchema>;
