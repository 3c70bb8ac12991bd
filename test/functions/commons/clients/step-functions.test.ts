import { SFNClient } from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { sfnClient } from "../../../../functions/commons/clients/step-functions";

describe("sfnClient", () => {
  it("is one Step Functions client, built on first use and the same after", () => {
    // Act
    const client = sfnClient();

    // Assess
    expect(client).toBeInstanceOf(SFNClient);
    expect(sfnClient()).toBe(client);
  });
});
