import type { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type S3Location, s3Uri } from "../../../shared/api/run-request";
import type { RunFiles, RunRef, SnapshotBytes } from "../../../shared/pipeline/run-steps";

/**
 * The subscriptions snapshot in S3, pinned to the version the run was started with: streamed once by prepare,
 * then read by byte range (`Range: bytes=start-(end-1)`, inclusive) by each batch.
 */
export class S3Snapshot implements SnapshotBytes {
  readonly name: string;

  constructor(
    private readonly s3: S3Client,
    private readonly location: S3Location,
  ) {
    this.name = s3Uri(location);
  }

  async *stream(): AsyncIterable<Uint8Array> {
    const answer = await this.s3.send(new GetObjectCommand(this.request()));
    for await (const chunk of answer.Body as Readable) yield chunk as Uint8Array;
  }

  async range(start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    const answer = await this.s3.send(new GetObjectCommand({ ...this.request(), Range: `bytes=${start}-${end - 1}` }));
    return (await answer.Body?.transformToByteArray()) ?? new Uint8Array(0);
  }

  private request() {
    const { bucket, key, versionId } = this.location;
    return { Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) };
  }
}

/** Where a run's files live in the work bucket: `runs/<incident>/<run>/`. */
export function runPrefix(ref: RunRef): string {
  return `runs/${encodeURIComponent(ref.incidentId)}/${ref.runId}/`;
}

/** A run's files under its prefix of the work bucket (encrypted by the bucket's default). */
export class S3RunFiles implements RunFiles {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    readonly prefix: string,
  ) {}

  location(name: string): { bucket: string; key: string } {
    return { bucket: this.bucket, key: this.keyOf(name) };
  }

  keyOf(name: string): string {
    return `${this.prefix}${name}`;
  }

  async put(name: string, body: string): Promise<void> {
    const contentType = name.endsWith(".json")
      ? "application/json"
      : name.endsWith(".csv")
        ? "text/csv"
        : "application/x-ndjson";
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(name), Body: body, ContentType: contentType }),
    );
  }

  async get(name: string): Promise<string> {
    const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(name) }));
    return (await answer.Body?.transformToString("utf-8")) ?? "";
  }
}
