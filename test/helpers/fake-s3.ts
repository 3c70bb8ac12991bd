import { Readable } from "node:stream";
import {
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";

/**
 * A versioned bucket in memory behind the real S3Client (aws-sdk-client-mock): GetObject with `Range`
 * (`bytes=a-b`, inclusive, as S3 reads it) and `VersionId`, HeadObject, PutObject. Answers carry the shapes the SDK
 * returns: a Body stream with `transformToByteArray`/`transformToString`, a `VersionId`, NoSuchKey / NotFound errors.
 */
export class FakeS3 {
  readonly client = new S3Client({ region: "ap-northeast-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  readonly mock = mockClient(this.client);
  private readonly objects = new Map<string, { versionId: string; body: Buffer }[]>();
  private versions = 0;
  /** Every ranged read, `key bytes=a-b`, to assert that batches read only their slices. */
  readonly ranges: string[] = [];

  constructor() {
    this.mock.on(PutObjectCommand).callsFake((input) => {
      const versionId = this.put(input.Bucket, input.Key, input.Body as string | Uint8Array);
      return { VersionId: versionId, ETag: `"${versionId}"`, $metadata: { httpStatusCode: 200 } };
    });
    this.mock.on(HeadObjectCommand).callsFake((input) => {
      const object = this.find(input.Bucket, input.Key, input.VersionId);
      // S3 answers 403, not 404, for a missing key to a caller without s3:ListBucket (hiwari's functions have none).
      if (!object)
        throw new S3ServiceException({
          name: "Forbidden",
          $fault: "client",
          message: "Forbidden",
          $metadata: { httpStatusCode: 403 },
        });
      return { ContentLength: object.body.length, VersionId: object.versionId, $metadata: { httpStatusCode: 200 } };
    });
    this.mock.on(GetObjectCommand).callsFake((input) => {
      const object = this.find(input.Bucket, input.Key, input.VersionId);
      if (!object)
        throw new NoSuchKey({ message: "The specified key does not exist.", $metadata: { httpStatusCode: 404 } });
      let bytes = object.body;
      if (input.Range) {
        this.ranges.push(`${input.Key} ${input.Range}`);
        const m = /^bytes=(\d+)-(\d+)$/.exec(input.Range);
        if (!m) throw new Error(`unexpected Range ${input.Range}`);
        bytes = bytes.subarray(Number(m[1]), Number(m[2]) + 1);
      }
      return {
        Body: bodyOf(bytes),
        ContentLength: bytes.length,
        VersionId: object.versionId,
        $metadata: { httpStatusCode: 200 },
      };
    });
  }

  put(bucket: string | undefined, key: string | undefined, body: string | Uint8Array): string {
    const versionId = `v${++this.versions}`;
    const list = this.objects.get(`${bucket}/${key}`) ?? [];
    list.push({ versionId, body: Buffer.from(body) });
    this.objects.set(`${bucket}/${key}`, list);
    return versionId;
  }

  text(bucket: string, key: string): string | undefined {
    return this.find(bucket, key)?.body.toString("utf8");
  }

  keys(bucket: string): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(`${bucket}/`)).map((k) => k.slice(bucket.length + 1));
  }

  private find(bucket: string | undefined, key: string | undefined, versionId?: string) {
    const list = this.objects.get(`${bucket}/${key}`);
    if (!list) return undefined;
    return versionId ? list.find((o) => o.versionId === versionId) : list.at(-1);
  }
}

function bodyOf(bytes: Buffer) {
  return Object.assign(Readable.from([bytes]), {
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToString: async (encoding?: BufferEncoding) => bytes.toString(encoding ?? "utf8"),
    transformToWebStream: () => {
      throw new Error("not used");
    },
  });
}
