import { describe, expect, it } from "vitest";
import { principalPerson } from "../../../shared/pipeline/principal-person";

describe("principalPerson", () => {
  it("is an IAM Identity Center session's user, whichever permission set and account it came through", () => {
    const finance = "arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Finance_0123456789abcdef/alice@example.com";
    const approver =
      "arn:aws:sts::222222222222:assumed-role/AWSReservedSSO_FinanceApprover_fedcba9876543210/alice@example.com";
    expect(principalPerson(finance)).toBe("identity-center-user:alice@example.com");
    expect(principalPerson(approver)).toBe(principalPerson(finance));
    expect(principalPerson(`arn:aws-cn:sts::111111111111:assumed-role/AWSReservedSSO_Ops_0a1b/bob`)).toBe(
      "identity-center-user:bob",
    );
  });

  it("is any other principal as it is: an IAM user, another role's session (its name chosen by the caller), a name", () => {
    for (const principal of [
      "arn:aws:iam::111111111111:user/alice",
      "arn:aws:sts::111111111111:assumed-role/FinanceRole/alice",
      "arn:aws:sts::111111111111:assumed-role/NotAWSReservedSSO_Finance_0123/alice",
      "AIDAEXAMPLE",
      "alice",
    ])
      expect(principalPerson(principal)).toBe(principal);
  });
});
