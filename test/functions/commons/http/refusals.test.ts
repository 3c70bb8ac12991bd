import { describe, expect, it } from "vitest";
import { refused } from "../../../../functions/commons/http/refusals";
import { ProposalRefusedError } from "../../../../shared/pipeline/proposal";

describe("refused", () => {
  it.each([
    ["invalid", 400],
    ["forbidden", 403],
    ["conflict", 409],
  ] as const)("answers a %s refusal of the four-eyes rules with %i and its message", (kind, status) => {
    const answer = refused(new ProposalRefusedError("the proposer cannot approve their own proposal", kind));
    expect([answer.statusCode, JSON.parse(answer.body)]).toEqual([
      status,
      { message: "the proposer cannot approve their own proposal" },
    ]);
  });

  it("takes a refusal of no stated kind as a conflict (409)", () => {
    expect(refused(new ProposalRefusedError("already approved")).statusCode).toBe(409);
  });
});
