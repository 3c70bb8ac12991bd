import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logicalId, synthApp } from "../template-helpers";

let app: ReturnType<typeof synthApp>;
beforeAll(() => {
  app = synthApp("prod");
});
afterAll(() => app?.dispose());

type Method = { Properties: Record<string, unknown> };

describe("RunBucket", () => {
  it("is versioned, encrypted, TLS only, never public, with access logs, and keeps old versions per stage", () => {
    const bucket = logicalId(app.template, "RunBucket");
    expect((app.template.toJSON().Resources[bucket] as Method).Properties).toMatchObject({
      VersioningConfiguration: { Status: "Enabled" },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(app.template, "RunBucketAccessLogs") } },
      LifecycleConfiguration: {
        Rules: [expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 400 } })],
      },
    });
    const policy = Object.values(app.template.findResources("AWS::S3::BucketPolicy")).find(
      (p) => ((p as Method).Properties.Bucket as { Ref: string }).Ref === bucket,
    ) as Method;
    expect((policy.Properties.PolicyDocument as { Statement: unknown[] }).Statement).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Action: "s3:*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );
  });
});
