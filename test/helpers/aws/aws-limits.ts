/**
 * AWS's published limits the fakes and the interpreter enforce. Each is a parameter: a test scales one down to
 * cross it in seconds (a few hundred Map children past a 2 KiB payload instead of 50,000 past 256 KiB).
 */
export interface AwsLimits {
  /**
   * Step Functions: a state's input, output and result, a task's payload and a Map child's input, the Map's
   * aggregated result without ResultWriter, and StartExecution's input: 256 KiB, as UTF-8 bytes of the JSON.
   */
  payloadBytes: number;
  /**
   * The same 256 KiB, applied to a DISTRIBUTED Map's aggregated result alone (the array of its children's outputs,
   * without ResultWriter). A test scales this one down to make a few hundred children cross it while the rest of the
   * run (the 64 shards' results of the inline Map, about 8 KiB) stays under `payloadBytes`.
   */
  distributedMapResultBytes: number;
  /** Step Functions: an execution's name, 1 to 80 characters. */
  executionNameMaxLength: number;
  /** Step Functions: a CSV header read by the ItemReader, 10 KiB. */
  csvHeaderBytes: number;
  /** S3: every part of a multipart upload but the last, at least 5 MiB. */
  s3MinPartBytes: number;
  /** S3: part numbers 1 to 10,000. */
  s3MaxParts: number;
  /** S3: a single PutObject, at most 5 GiB. */
  s3MaxPutBytes: number;
  /** S3: an object key, at most 1,024 bytes of UTF-8. */
  s3MaxKeyBytes: number;
  /** EventBridge PutEvents: at most 10 entries a call. */
  putEventsMaxEntries: number;
  /** EventBridge PutEvents: an entry, and the whole request, at most 256 KB (as AWS computes an entry's size). */
  putEventsMaxBytes: number;
}

export const AWS_LIMITS: AwsLimits = {
  payloadBytes: 262_144,
  distributedMapResultBytes: 262_144,
  executionNameMaxLength: 80,
  csvHeaderBytes: 10_240,
  s3MinPartBytes: 5 * 1024 * 1024,
  s3MaxParts: 10_000,
  s3MaxPutBytes: 5 * 1024 ** 3,
  s3MaxKeyBytes: 1024,
  putEventsMaxEntries: 10,
  putEventsMaxBytes: 262_144,
};

/**
 * Execution names with CloudWatch Logs logging on (hiwari's state machine logs at ERROR): only `0-9 A-Z a-z - _`.
 * (Without logging AWS accepts more, but never whitespace, brackets, wildcards or control characters.)
 */
export const EXECUTION_NAME = /^[0-9A-Za-z_-]+$/;

/** The UTF-8 size of a JSON value as Step Functions counts it (its serialisation). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "null", "utf8");
}
