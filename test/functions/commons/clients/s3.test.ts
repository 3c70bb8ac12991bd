import { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { s3Client } from "../../../../functions/commons/clients/s3";

describe("s3Client", () => {
  it("is one S3 client, built on first use and the same after", () => {
    // Act
    const client = s3Client();

    // Assess
    expect(client).toBeInstanceOf(S3Client);
    expect(s3Client()).toBe(client);
  });
});
