import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { PART_BYTES, S3RunFiles } from "../../../../functions/commons/s3/s3-run-files";

const s3 = new S3Client({ region: "ap-northeast-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
const mock = mockClient(s3);
afterEach(() => mock.reset());

/** `count` pieces of text of `size` characters each (ASCII: a character is a byte). */
async function* pieces(count: number, size: number, failAt = -1): AsyncIterable<string> {
  for (let i = 0; i < count; i++) {
    if (i === failAt) throw new Error("the report's source failed");
    yield String.fromCharCode(97 + (i % 26)).repeat(size);
  }
}

describe("S3RunFiles.putStream", () => {
  it("writes a small file with one PutObject", async () => {
    mock.on(PutObjectCommand).resolves({ ETag: '"e"' });
    await new S3RunFiles(s3, "bucket", "runs/i/r/").putStream("rejects.jsonl", pieces(3, 10));
    const [put] = mock.commandCalls(PutObjectCommand);
    expect(put?.args[0].input).toMatchObject({ Bucket: "bucket", Key: "runs/i/r/rejects.jsonl" });
    expect(Buffer.from(put?.args[0].input.Body as Uint8Array).toString()).toBe(
      `${"a".repeat(10)}${"b".repeat(10)}${"c".repeat(10)}`,
    );
    expect(mock.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);
  });

  it("uploads a large file in parts of PART_BYTES (the last smaller), holding no more than a part", async () => {
    // Prepare: 20 MiB in 1 MiB pieces: two full parts and a 4 MiB last one.
    mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "up-1" });
    mock.on(UploadPartCommand).callsFake((input: { PartNumber: number }) => ({ ETag: `"p${input.PartNumber}"` }));
    mock.on(CompleteMultipartUploadCommand).resolves({});
    const mib = 1024 * 1024;

    // Act
    await new S3RunFiles(s3, "bucket", "runs/i/r/").putStream("rejects.jsonl", pieces(20, mib));

    // Assess
    const parts = mock.commandCalls(UploadPartCommand).map((c) => c.args[0].input);
    expect(parts.map((p) => [p.PartNumber, (p.Body as Uint8Array).length, p.UploadId])).toEqual([
      [1, PART_BYTES, "up-1"],
      [2, PART_BYTES, "up-1"],
      [3, 20 * mib - 2 * PART_BYTES, "up-1"],
    ]);
    expect(mock.commandCalls(CompleteMultipartUploadCommand)[0]?.args[0].input).toEqual({
      Bucket: "bucket",
      Key: "runs/i/r/rejects.jsonl",
      UploadId: "up-1",
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: '"p1"' },
          { PartNumber: 2, ETag: '"p2"' },
          { PartNumber: 3, ETag: '"p3"' },
        ],
      },
    });
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("aborts the upload when its source fails, leaving no object, and says why", async () => {
    mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "up-2" });
    mock.on(UploadPartCommand).resolves({ ETag: '"p"' });
    mock.on(AbortMultipartUploadCommand).resolves({});

    const upload = new S3RunFiles(s3, "bucket", "runs/i/r/").putStream("rejects.jsonl", pieces(20, 1024 * 1024, 12));

    await expect(upload).rejects.toThrow("the report's source failed");
    expect(mock.commandCalls(AbortMultipartUploadCommand)[0]?.args[0].input).toEqual({
      Bucket: "bucket",
      Key: "runs/i/r/rejects.jsonl",
      UploadId: "up-2",
    });
    expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });
});
