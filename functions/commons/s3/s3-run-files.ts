import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
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

/** Parts of a streamed upload: S3 takes parts of 5 MiB at least (but the last), 10,000 parts at most (80 GB). */
export const PART_BYTES = 8 * 1024 * 1024;

const contentTypeOf = (name: string) =>
  name.endsWith(".json") ? "application/json" : name.endsWith(".csv") ? "text/csv" : "application/x-ndjson";

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

  async put(name: string, body: string | Uint8Array): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.keyOf(name),
        Body: body,
        ContentType: contentTypeOf(name),
      }),
    );
  }

  /**
   * A multipart upload of parts of PART_BYTES as the text comes (one PutObject when it all fits in one part), so
   * no more than a part is held; aborted on failure, so no half object is left (S3 shows nothing until complete).
   * Written here rather than with `@aws-sdk/lib-storage`'s Upload: a few calls, no extra package in the bundle.
   */
  async putStream(name: string, body: AsyncIterable<string>): Promise<void> {
    const encoder = new TextEncoder();
    const pending: Uint8Array[] = [];
    let size = 0;
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    const Key = this.keyOf(name);
    const flush = async () => {
      uploadId ??= (
        await this.s3.send(
          new CreateMultipartUploadCommand({ Bucket: this.bucket, Key, ContentType: contentTypeOf(name) }),
        )
      ).UploadId;
      const PartNumber = parts.length + 1;
      const answer = await this.s3.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key,
          UploadId: uploadId,
          PartNumber,
          Body: Buffer.concat(pending),
        }),
      );
      parts.push({ PartNumber, ETag: answer.ETag });
      pending.length = 0;
      size = 0;
    };
    try {
      for await (const text of body) {
        const bytes = encoder.encode(text);
        pending.push(bytes);
        size += bytes.length;
        if (size >= PART_BYTES) await flush();
      }
      if (uploadId === undefined) return await this.put(name, Buffer.concat(pending));
      if (size > 0) await flush();
      await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (e) {
      if (uploadId !== undefined)
        try {
          await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId }));
        } catch {
          // the bucket's lifecycle rule removes what an abort could not
        }
      throw e;
    }
  }

  async get(name: string): Promise<string> {
    const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(name) }));
    return (await answer.Body?.transformToString("utf-8")) ?? "";
  }
}
