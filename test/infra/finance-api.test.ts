import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stageConfig } from "../../infra/stage-config";
import { grantsOf, synthApp } from "./template-helpers";

/** The stage's four eyes on reruns, as the finance API's functions get it. */
describe.each([
  ["dev", "false"],
  ["prod", "true"],
] as const)("requireProposalForReruns in %s", (stage, flag) => {
  let app: ReturnType<typeof synthApp>;
  beforeAll(() => {
    app = synthApp(stage);
  });
  afterAll(() => app?.dispose());

  const environmentOf = (description: string) =>
    Object.values(app.template.findResources("AWS::Lambda::Function"))
      .map((f) => f.Properties as { Description: string; Environment: { Variables: Record<string, unknown> } })
      .find((f) => f.Description.startsWith(description))?.Environment.Variables;

  it(`is ${flag} in the stage config, and so in start-run's and approve-proposal's environment`, () => {
    expect(String(stageConfig(stage).requireProposalForReruns)).toBe(flag);
    expect(environmentOf("hiwari start-run")?.REQUIRE_PROPOSAL_FOR_RERUNS).toBe(flag);
    expect(environmentOf("hiwari approve-proposal")?.REQUIRE_PROPOSAL_FOR_RERUNS).toBe(flag);
  });

  it(`grants start-run ${flag === "true" ? "a query of the incident's runs (to tell a rerun)" : "no query"}`, () => {
    expect(grantsOf(app.template, "FinanceApiStartRunRole").includes("Allow dynamodb:Query on RunsTable.Arn")).toBe(
      flag === "true",
    );
  });
});

describe("a proposal its run did not reproduce", () => {
  let app: ReturnType<typeof synthApp>;
  beforeAll(() => {
    app = synthApp("prod");
  });
  afterAll(() => app?.dispose());

  it("alarms at the first ProposalsNotReproduced complete-run counts", () => {
    app.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmDescription: Match.stringLikeRegexp("^a run applying an approved proposal did not reproduce its preview"),
      MetricName: "ProposalsNotReproduced",
      Namespace: "hiwari",
      Dimensions: [{ Name: "service", Value: "hiwari" }],
      Threshold: 0,
    });
  });
});
