import type { APIGatewayProxyEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { principalOf } from "../../../../functions/commons/http/principal";

const withIdentity = (identity: Record<string, string | null> | undefined) =>
  ({ body: '{"proposedBy":"mallory"}', requestContext: { identity } }) as unknown as APIGatewayProxyEvent;

describe("principalOf", () => {
  it("is the IAM principal API Gateway verified: userArn, else caller; never a name from the body", () => {
    expect(principalOf(withIdentity({ userArn: "arn:aws:iam::123456789012:user/alice", caller: "AIDAALICE" }))).toBe(
      "arn:aws:iam::123456789012:user/alice",
    );
    expect(principalOf(withIdentity({ userArn: null, caller: "AIDAALICE" }))).toBe("AIDAALICE");
  });

  it("is undefined when API Gateway gives neither (or no identity at all)", () => {
    expect(principalOf(withIdentity({ userArn: "", caller: "" }))).toBeUndefined();
    expect(principalOf(withIdentity(undefined))).toBeUndefined();
    expect(principalOf({} as APIGatewayProxyEvent)).toBeUndefined();
  });
});
