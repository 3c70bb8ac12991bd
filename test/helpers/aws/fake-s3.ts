import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { AWS_LIMITS, type AwsLimits } from "./aws-limits";
import { PARTITION, REGION } from "./deployed-template";
import type { AwsCallLog, Principal } from "./iam-policy";

interface Version {
  versionId: string;
  body: Buffer;
  etag: string;
  contentType?: string;
  lastModified: Date;
}

interface Upload {
  bucket: string;
  key: string;
  contentType?: string;
  parts: Map<number, { body: Buffer; etag: string }>;
}

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

/** An S3 error as the SDK deserialises it: its code as `name`, the HTTP status in `$metadata`. */
export function s3Error(name: string, status: number, message: string): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    message,
    $metadata: { httpStatusCode: status },
  });
}

async function bytesOf(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === "string" || body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(Buffer.from(c as Uint8Array));
    return Buffer.concat(chunks);
  }
  if (body instanceof Blob) return Buffer.from(await body.arrayBuffer());
  throw new Error(`the fake S3 cannot read a body of type ${typeof body}`);
}

/** A GetObject body as the SDK gives it: a stream with the `transformTo…` helpers. */
function streamOf(bytes: Buffer) {
  return Object.assign(Readable.from([bytes]), {
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToString: async (encoding?: BufferEncoding) => bytes.toString(encoding ?? "utf8"),
    transformToWebStream: () => Readable.toWeb(Readable.from([bytes])),
  });
}

/**
 * S3 in memory behind real S3Clients (aws-sdk-client-mock), one client per principal so every call is recorded
 * with its caller and checked against the caller's policies (`s3:GetObject`, `s3:GetObjectVersion` when a version
 * is named, `s3:PutObject` for a put and each multipart step, `s3:AbortMultipartUpload`, `s3:ListBucket` on the
 * bucket). Buckets are versioned. Served as S3 does, with its request and response shapes:
 * - GetObject (whole, or `Range: bytes=a-b | a- | -n`, 206 with `ContentRange`; 416 InvalidRange past the end),
 *   HeadObject, PutObject (at most 5 GiB: EntityTooLarge), ListObjectsV2 (Prefix, Delimiter, StartAfter, MaxKeys,
 *   continuation tokens);
 * - multipart: CreateMultipartUpload, UploadPart (part numbers 1–10,000), CompleteMultipartUpload (parts in
 *   ascending order with the ETags UploadPart returned, every part but the last at least 5 MiB: EntityTooSmall,
 *   InvalidPart, InvalidPartOrder), AbortMultipartUpload (then NoSuchUpload);
 * - a key longer than 1,024 bytes: KeyTooLongError; a missing key: 404 NoSuchKey (HEAD: NotFound) to a caller
 *   allowed `s3:ListBucket`, else 403 AccessDenied, as S3 answers.
 * Any other operation is refused loudly, so a new call in the code shows up here first.
 */
export class FakeS3 {
  private readonly buckets = new Map<string, Map<string, Version[]>>();
  private readonly uploads = new Map<string, Upload>();
  private counter = 0;
  /** Every ranged read, `bucket/key bytes=a-b`. */
  readonly ranges: string[] = [];

  constructor(
    private readonly log: AwsCallLog,
    bucketNames: readonly string[],
    readonly limits: AwsLimits = AWS_LIMITS,
  ) {
    for (const name of bucketNames) this.buckets.set(name, new Map());
  }

  /** An S3Client whose every call is made as `principal`. */
  clientFor(principal: Principal): S3Client {
    const client = new S3Client({ region: REGION, credentials: { accessKeyId: "x", secretAccessKey: "x" } });
    const mock = mockClient(client);
    // Every answer is a promise, as the SDK's `send` returns (code may chain `.catch` on it).
    mock.onAnyCommand().callsFake(async () => {
      throw new Error("the fake S3 does not serve this operation: add it to test/helpers/aws/fake-s3.ts");
    });
    mock.on(PutObjectCommand).callsFake(async (i) => this.putObject(i, principal));
    mock.on(GetObjectCommand).callsFake(async (i) => this.getObject(i, principal, false));
    mock.on(HeadObjectCommand).callsFake(async (i) => this.getObject(i, principal, true));
    mock.on(ListObjectsV2Command).callsFake(async (i) => this.list(i, principal));
    mock.on(CreateMultipartUploadCommand).callsFake(async (i) => this.create(i, principal));
    mock.on(UploadPartCommand).callsFake(async (i) => this.uploadPart(i, principal));
    mock.on(CompleteMultipartUploadCommand).callsFake(async (i) => this.complete(i, principal));
    mock.on(AbortMultipartUploadCommand).callsFake(async (i) => this.abort(i, principal));
    return client;
  }

  // ---- the test's own access (finance uploading a snapshot, a test reading what a run wrote): not recorded ----

  /** Puts an object as a new version; returns its version id. */
  put(bucket: string, key: string, body: string | Uint8Array, contentType?: string): string {
    return this.store(bucket, key, Buffer.from(body), contentType).versionId;
  }

  text(bucket: string, key: string, versionId?: string): string | undefined {
    return this.find(bucket, key, versionId)?.body.toString("utf8");
  }

  /** The latest version's keys of a bucket, sorted, under `prefix`. */
  keys(bucket: string, prefix = ""): string[] {
    return [...(this.buckets.get(bucket)?.keys() ?? [])].filter((k) => k.startsWith(prefix)).sort();
  }

  /** Multipart uploads started and neither completed nor aborted. */
  openUploads(): { bucket: string; key: string }[] {
    return [...this.uploads.values()].map(({ bucket, key }) => ({ bucket, key }));
  }

  // ---- the operations ----

  private authorize(principal: Principal, operation: string, action: string, resource: string) {
    const call = this.log.record(principal, operation, action, resource);
    // A HEAD answer has no body: the SDK names the error by its status.
    if (this.log.refuses(call))
      throw s3Error(operation === "HeadObjectCommand" ? "Forbidden" : "AccessDenied", 403, "Access Denied");
  }

  private objectArn(bucket: string | undefined, key: string | undefined) {
    return `arn:${PARTITION}:s3:::${bucket}/${key}`;
  }

  private bucket(name: string | undefined): Map<string, Version[]> {
    const b = name === undefined ? undefined : this.buckets.get(name);
    if (!b) throw s3Error("NoSuchBucket", 404, "The specified bucket does not exist");
    return b;
  }

  private checkKey(key: string | undefined) {
    if (!key) throw s3Error("InvalidArgument", 400, "A key must be given");
    if (Buffer.byteLength(key, "utf8") > this.limits.s3MaxKeyBytes)
      throw s3Error("KeyTooLongError", 400, "Your key is too long");
  }

  private store(bucket: string, key: string, body: Buffer, contentType?: string, etag = `"${md5(body)}"`): Version {
    const versions = this.bucket(bucket);
    const version: Version = {
      versionId: `${(++this.counter).toString(36).padStart(8, "0")}.${md5(body).slice(0, 16)}`,
      body,
      etag,
      lastModified: new Date(),
      ...(contentType ? { contentType } : {}),
    };
    versions.set(key, [...(versions.get(key) ?? []), version]);
    return version;
  }

  private find(bucket: string | undefined, key: string | undefined, versionId?: string): Version | undefined {
    const list = this.bucket(bucket).get(key ?? "");
    if (!list) return undefined;
    return versionId ? list.find((v) => v.versionId === versionId) : list.at(-1);
  }

  private async putObject(
    input: { Bucket?: string; Key?: string; Body?: unknown; ContentType?: string },
    principal: Principal,
  ) {
    this.authorize(principal, "PutObjectCommand", "s3:PutObject", this.objectArn(input.Bucket, input.Key));
    this.checkKey(input.Key);
    const body = await bytesOf(input.Body);
    if (body.length > this.limits.s3MaxPutBytes)
      throw s3Error("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size");
    const v = this.store(input.Bucket as string, input.Key as string, body, input.ContentType);
    return { ETag: v.etag, VersionId: v.versionId, $metadata: { httpStatusCode: 200 } };
  }

  private getObject(
    input: { Bucket?: string; Key?: string; VersionId?: string; Range?: string },
    principal: Principal,
    head: boolean,
  ) {
    const operation = head ? "HeadObjectCommand" : "GetObjectCommand";
    const action = input.VersionId ? "s3:GetObjectVersion" : "s3:GetObject";
    const arn = this.objectArn(input.Bucket, input.Key);
    this.authorize(principal, operation, action, arn);
    const object = this.find(input.Bucket, input.Key, input.VersionId);
    if (!object) {
      const mayList = this.log.wouldAllow(principal, "s3:ListBucket", `arn:${PARTITION}:s3:::${input.Bucket}`);
      if (!mayList) throw s3Error(head ? "Forbidden" : "AccessDenied", 403, "Access Denied");
      if (input.VersionId) throw s3Error("NoSuchVersion", 404, "The specified version does not exist.");
      throw s3Error(head ? "NotFound" : "NoSuchKey", 404, "The specified key does not exist.");
    }
    const size = object.body.length;
    let bytes = object.body;
    let contentRange: string | undefined;
    if (input.Range && !head) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(input.Range);
      if (!m || (m[1] === "" && m[2] === "")) throw s3Error("InvalidArgument", 400, `Invalid Range ${input.Range}`);
      let start: number;
      let end: number;
      if (m[1] === "") {
        start = Math.max(0, size - Number(m[2]));
        end = size - 1;
      } else {
        start = Number(m[1]);
        end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
      }
      if (start >= size || end < start) throw s3Error("InvalidRange", 416, "The requested range is not satisfiable");
      bytes = object.body.subarray(start, end + 1);
      contentRange = `bytes ${start}-${end}/${size}`;
      this.ranges.push(`${input.Bucket}/${input.Key} ${input.Range}`);
    }
    return {
      ...(head ? {} : { Body: streamOf(bytes) }),
      ContentLength: bytes.length,
      ...(contentRange ? { ContentRange: contentRange } : {}),
      ETag: object.etag,
      VersionId: object.versionId,
      LastModified: object.lastModified,
      ...(object.contentType ? { ContentType: object.contentType } : {}),
      $metadata: { httpStatusCode: contentRange ? 206 : 200 },
    };
  }

  private list(
    input: {
      Bucket?: string;
      Prefix?: string;
      Delimiter?: string;
      StartAfter?: string;
      MaxKeys?: number;
      ContinuationToken?: string;
    },
    principal: Principal,
  ) {
    this.authorize(principal, "ListObjectsV2Command", "s3:ListBucket", `arn:${PARTITION}:s3:::${input.Bucket}`);
    const prefix = input.Prefix ?? "";
    const after = input.ContinuationToken
      ? Buffer.from(input.ContinuationToken, "base64").toString("utf8")
      : (input.StartAfter ?? "");
    const maxKeys = Math.min(input.MaxKeys ?? 1000, 1000);
    const contents: { Key: string; Size: number; ETag: string; LastModified: Date; StorageClass: string }[] = [];
    const common = new Set<string>();
    let last = "";
    let truncated = false;
    const keys = [...this.bucket(input.Bucket).keys()]
      .filter((k) => k.startsWith(prefix) && k > after)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const key of keys) {
      const rest = key.slice(prefix.length);
      const cut = input.Delimiter ? rest.indexOf(input.Delimiter) : -1;
      const commonPrefix = cut >= 0 ? prefix + rest.slice(0, cut + (input.Delimiter?.length ?? 0)) : undefined;
      if (commonPrefix && common.has(commonPrefix)) continue;
      if (contents.length + common.size >= maxKeys) {
        truncated = true;
        break;
      }
      if (commonPrefix) common.add(commonPrefix);
      else {
        const v = this.find(input.Bucket, key) as Version;
        contents.push({
          Key: key,
          Size: v.body.length,
          ETag: v.etag,
          LastModified: v.lastModified,
          StorageClass: "STANDARD",
        });
      }
      last = commonPrefix ?? key;
    }
    return {
      Name: input.Bucket,
      Prefix: prefix,
      MaxKeys: maxKeys,
      KeyCount: contents.length + common.size,
      IsTruncated: truncated,
      ...(contents.length ? { Contents: contents } : {}),
      ...(common.size ? { CommonPrefixes: [...common].map((Prefix) => ({ Prefix })) } : {}),
      ...(truncated ? { NextContinuationToken: Buffer.from(last).toString("base64") } : {}),
      $metadata: { httpStatusCode: 200 },
    };
  }

  private create(input: { Bucket?: string; Key?: string; ContentType?: string }, principal: Principal) {
    this.authorize(principal, "CreateMultipartUploadCommand", "s3:PutObject", this.objectArn(input.Bucket, input.Key));
    this.checkKey(input.Key);
    this.bucket(input.Bucket);
    const uploadId = `upload-${++this.counter}`;
    this.uploads.set(uploadId, {
      bucket: input.Bucket as string,
      key: input.Key as string,
      parts: new Map(),
      ...(input.ContentType ? { contentType: input.ContentType } : {}),
    });
    return { Bucket: input.Bucket, Key: input.Key, UploadId: uploadId, $metadata: { httpStatusCode: 200 } };
  }

  private upload(input: { Bucket?: string; Key?: string; UploadId?: string }): Upload {
    const upload = this.uploads.get(input.UploadId ?? "");
    if (!upload || upload.bucket !== input.Bucket || upload.key !== input.Key)
      throw s3Error("NoSuchUpload", 404, "The specified upload does not exist.");
    return upload;
  }

  private async uploadPart(
    input: { Bucket?: string; Key?: string; UploadId?: string; PartNumber?: number; Body?: unknown },
    principal: Principal,
  ) {
    this.authorize(principal, "UploadPartCommand", "s3:PutObject", this.objectArn(input.Bucket, input.Key));
    const upload = this.upload(input);
    const n = input.PartNumber ?? 0;
    if (!Number.isInteger(n) || n < 1 || n > this.limits.s3MaxParts)
      throw s3Error("InvalidArgument", 400, `Part number must be an integer between 1 and ${this.limits.s3MaxParts}`);
    const body = await bytesOf(input.Body);
    const etag = `"${md5(body)}"`;
    upload.parts.set(n, { body, etag });
    return { ETag: etag, $metadata: { httpStatusCode: 200 } };
  }

  private complete(
    input: {
      Bucket?: string;
      Key?: string;
      UploadId?: string;
      MultipartUpload?: { Parts?: { ETag?: string; PartNumber?: number }[] };
    },
    principal: Principal,
  ) {
    this.authorize(
      principal,
      "CompleteMultipartUploadCommand",
      "s3:PutObject",
      this.objectArn(input.Bucket, input.Key),
    );
    const upload = this.upload(input);
    const parts = input.MultipartUpload?.Parts ?? [];
    if (parts.length === 0) throw s3Error("MalformedXML", 400, "The XML you provided was not well-formed");
    const bodies: Buffer[] = [];
    let previous = 0;
    parts.forEach((p, i) => {
      const n = p.PartNumber ?? 0;
      if (n <= previous) throw s3Error("InvalidPartOrder", 400, "The list of parts was not in ascending order.");
      previous = n;
      const uploaded = upload.parts.get(n);
      if (!uploaded || uploaded.etag !== p.ETag)
        throw s3Error("InvalidPart", 400, `One or more of the specified parts could not be found (part ${n}).`);
      if (i < parts.length - 1 && uploaded.body.length < this.limits.s3MinPartBytes)
        throw s3Error(
          "EntityTooSmall",
          400,
          `Your proposed upload is smaller than the minimum allowed size (part ${n}: ${uploaded.body.length} bytes)`,
        );
      bodies.push(uploaded.body);
    });
    const digest = createHash("md5");
    for (const p of parts)
      digest.update(Buffer.from(upload.parts.get(p.PartNumber ?? 0)?.etag.slice(1, -1) ?? "", "hex"));
    const v = this.store(
      upload.bucket,
      upload.key,
      Buffer.concat(bodies),
      upload.contentType,
      `"${digest.digest("hex")}-${parts.length}"`,
    );
    this.uploads.delete(input.UploadId as string);
    return {
      Bucket: upload.bucket,
      Key: upload.key,
      ETag: v.etag,
      VersionId: v.versionId,
      Location: `https://${upload.bucket}.s3.amazonaws.com/${upload.key}`,
      $metadata: { httpStatusCode: 200 },
    };
  }

  private abort(input: { Bucket?: string; Key?: string; UploadId?: string }, principal: Principal) {
    this.authorize(
      principal,
      "AbortMultipartUploadCommand",
      "s3:AbortMultipartUpload",
      this.objectArn(input.Bucket, input.Key),
    );
    this.upload(input);
    this.uploads.delete(input.UploadId as string);
    return { $metadata: { httpStatusCode: 204 } };
  }
}
