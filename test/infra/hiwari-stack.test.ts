import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { CfnTable, Table } from "aws-cdk-lib/aws-dynamodb";
import type { PolicyValidationReportJson } from "aws-cdk-lib/cloud-assembly-schema";
import { afterAll, describe, expect, it } from "vitest";
import { createHiwariApp, type HiwariApp } from "../../infra/hiwari-app";
import type { StageName } from "../../infra/stage-config";

// Synthesise with the feature flags `cdk synth` reads from cdk.json.
const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as {
  context?: Record<string, unknown>;
};

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A fresh hiwari app for `stage` (no `stage` context when undefined) that synthesises into its own
 * temporary directory. CDK's built-in CloudFormation template validation is off: it takes ~10 s to
 * start and checks CloudFormation, not us (`cdk synth` still runs it). cdk-nag stays on. The functions are
 * not bundled (`aws:cdk:bundling-stacks` empty, CDK's own switch of which stacks to bundle): these tests assert
 * the template, where each function's code is then an asset whose hash comes from its construct path, not from
 * the bundle, so a source file edited meanwhile cannot make two synths differ. `npm run synth` and
 * `npm run bundle:sizes` bundle them for real.
 */
function hiwariApp(stage?: string): HiwariApp & { readonly outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), "hiwari-cdk-"));
  outdirs.push(outdir);
  const context = {
    ...cdkJson.context,
    "aws:cdk:bundling-stacks": [],
    ...(stage === undefined ? {} : { stage }),
  };
  return { ...createHiwariApp({ context, outdir, builtinCloudFormationValidation: false }), outdir };
}

interface Synthesised {
  readonly template: Template;
  readonly refundsId: string;
  readonly runsId: string;
}

const synthesised = new Map<StageName, Synthesised>();

/** The template of the `stage` app (synthesised once per stage) and the logical IDs of its tables. */
function synth(stage: StageName): Synthesised {
  let result = synthesised.get(stage);
  if (result === undefined) {
    const { stack } = hiwariApp(stage);
    const logicalId = (table: Table) => stack.getLogicalId(table.node.defaultChild as CfnTable);
    result = {
      template: Template.fromStack(stack),
      refundsId: logicalId(stack.refunds.table),
      runsId: logicalId(stack.runs.table),
    };
    synthesised.set(stage, result);
  }
  return result;
}

type TemplateResource = {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

function resources(stage: StageName): Record<string, TemplateResource> {
  return synth(stage).template.toJSON().Resources;
}

function keySchema(hash: string, range: string) {
  return [
    { AttributeName: hash, KeyType: "HASH" },
    { AttributeName: range, KeyType: "RANGE" },
  ];
}

const STAGES: StageName[] = ["dev", "prod"];

describe.each(STAGES)("HiwariStack (%s): settings shared by every stage", (stage) => {
  it("has the two tables and no KMS key of its own", () => {
    const { template } = synth(stage);
    template.resourceCountIs("AWS::DynamoDB::Table", 2);
    template.resourceCountIs("AWS::KMS::Key", 0);
  });

  it("refunds table: on demand, PITR, AWS-managed SSE, NEW_AND_OLD_IMAGES stream, pk/sk and gsi1", () => {
    const refunds = resources(stage)[synth(stage).refundsId];
    expect(refunds?.Type).toBe("AWS::DynamoDB::Table");
    expect(refunds?.Properties).toEqual({
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      // Enabled without a KMSMasterKeyId: the AWS managed key aws/dynamodb.
      SSESpecification: { SSEEnabled: true },
      StreamSpecification: { StreamViewType: "NEW_AND_OLD_IMAGES" },
      KeySchema: keySchema("pk", "sk"),
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
        { AttributeName: "gsi1pk", AttributeType: "S" },
        { AttributeName: "gsi1sk", AttributeType: "S" },
      ],
      GlobalSecondaryIndexes: [
        { IndexName: "gsi1", KeySchema: keySchema("gsi1pk", "gsi1sk"), Projection: { ProjectionType: "ALL" } },
      ],
      DeletionProtectionEnabled: stage === "prod",
    });
  });

  it("runs table: the same settings and keys, no stream, no index", () => {
    const runs = resources(stage)[synth(stage).runsId];
    expect(runs?.Type).toBe("AWS::DynamoDB::Table");
    expect(runs?.Properties).toEqual({
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      KeySchema: keySchema("pk", "sk"),
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
      ],
      DeletionProtectionEnabled: stage === "prod",
    });
  });

  it("outputs the table names and ARNs, and the refunds stream ARN", () => {
    const { template, refundsId, runsId } = synth(stage);
    // Besides the API endpoint output RestApi adds itself (FinanceApiEndpoint…):
    const outputs = Object.keys(template.findOutputs("*")).filter((k) => !k.startsWith("FinanceApiEndpoint"));
    expect(outputs.sort()).toEqual([
      "EventBusName",
      "FinanceApiUrl",
      "RefundsTableArn",
      "RefundsTableName",
      "RefundsTableStreamArn",
      "RunBucketName",
      "RunsTableArn",
      "RunsTableName",
      "StateMachineArn",
    ]);
    template.hasOutput("RefundsTableName", { Value: { Ref: refundsId } });
    template.hasOutput("RefundsTableArn", { Value: { "Fn::GetAtt": [refundsId, "Arn"] } });
    template.hasOutput("RefundsTableStreamArn", { Value: { "Fn::GetAtt": [refundsId, "StreamArn"] } });
    template.hasOutput("RunsTableName", { Value: { Ref: runsId } });
    template.hasOutput("RunsTableArn", { Value: { "Fn::GetAtt": [runsId, "Arn"] } });
  });
});

describe("HiwariStack: what differs between stages", () => {
  it("prod retains both tables and turns deletion protection on", () => {
    const { refundsId, runsId } = synth("prod");
    for (const id of [refundsId, runsId]) {
      expect(resources("prod")[id]).toMatchObject({
        DeletionPolicy: "Retain",
        UpdateReplacePolicy: "Retain",
        Properties: { DeletionProtectionEnabled: true },
      });
    }
  });

  it("dev deletes both tables with the stack and leaves deletion protection off", () => {
    const { refundsId, runsId } = synth("dev");
    for (const id of [refundsId, runsId]) {
      expect(resources("dev")[id]).toMatchObject({
        DeletionPolicy: "Delete",
        UpdateReplacePolicy: "Delete",
        Properties: { DeletionProtectionEnabled: false },
      });
    }
  });

  it("nothing else differs in the template but the stage name, the retention of archive, logs and old snapshots, and four eyes on reruns", () => {
    const normalised = (stage: StageName) => {
      const template = structuredClone(synth(stage).template.toJSON()) as {
        Description?: string;
        Resources: Record<string, TemplateResource>;
      };
      template.Description = template.Description?.replace(`(${stage})`, "(STAGE)");
      for (const resource of Object.values(template.Resources)) {
        delete resource.DeletionPolicy;
        delete resource.UpdateReplacePolicy;
        delete resource.Properties?.DeletionProtectionEnabled;
        if (resource.Type === "AWS::Events::Archive") delete resource.Properties?.RetentionDays;
        if (resource.Type === "AWS::Logs::LogGroup") {
          delete resource.Properties?.RetentionInDays;
          // The state machine's vended-logs group is named after the stack, which is named after the stage.
          const name = resource.Properties?.LogGroupName;
          if (typeof name === "string" && resource.Properties)
            resource.Properties.LogGroupName = name.replace(`hiwari-${stage}`, "hiwari-STAGE");
        }
        // Reruns require a proposal in prod: start-run is told so, and may then query the incident's runs.
        if (resource.Type === "AWS::Lambda::Function") {
          const variables = (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
            ?.Variables;
          if (variables) delete variables.REQUIRE_PROPOSAL_FOR_RERUNS;
        }
        if (resource.Type === "AWS::IAM::Policy") {
          const document = resource.Properties?.PolicyDocument as { Statement: { Action: unknown }[] } | undefined;
          for (const statement of document?.Statement ?? [])
            if (Array.isArray(statement.Action))
              statement.Action = statement.Action.filter((a) => a !== "dynamodb:Query");
        }
        if (resource.Type === "AWS::S3::Bucket") {
          const lifecycle = resource.Properties?.LifecycleConfiguration as
            | { Rules: Record<string, unknown>[] }
            | undefined;
          for (const rule of lifecycle?.Rules ?? []) delete rule.NoncurrentVersionExpiration;
        }
      }
      return template;
    };
    expect(normalised("prod")).toEqual(normalised("dev"));
  });

  it("gives each stage its own CloudFormation stack", () => {
    expect(hiwariApp("dev").stack.stackName).toBe("hiwari-dev");
    expect(hiwariApp("prod").stack.stackName).toBe("hiwari-prod");
  });

  it("is dev when no stage is given", () => {
    const { stack } = hiwariApp();
    expect(stack.stackName).toBe("hiwari-dev");
    expect(Template.fromStack(stack).toJSON()).toEqual(synth("dev").template.toJSON());
  });

  it("rejects an unknown stage", () => {
    expect(() => hiwariApp("production")).toThrow(/Unknown stage "production".*dev, prod/);
  });
});

describe("cdk-nag AwsSolutionsChecks", () => {
  /**
   * cdk-nag 3 is a CDK policy-validation plugin. Synthesis runs it, writes its unacknowledged
   * findings to validation-report.json in the cloud assembly, and throws if there are any, warnings
   * included (the CLI exits 1 instead). Acknowledged findings never reach the report.
   */
  function nagFindings(outdir: string) {
    const report = JSON.parse(
      readFileSync(join(outdir, "validation-report.json"), "utf8"),
    ) as PolicyValidationReportJson;
    return report.pluginReports
      .filter((pluginReport) => pluginReport.pluginName === "AwsSolutions")
      .flatMap((pluginReport) => pluginReport.violations)
      .map((violation) => ({
        rule: violation.ruleName,
        severity: violation.severity,
        paths: violation.violatingConstructs.map((construct) => construct.constructPath),
      }));
  }

  /** An app whose runs table has point-in-time recovery switched off behind the construct's back. */
  function appWithoutPitr() {
    const hiwari = hiwariApp("dev");
    (hiwari.stack.runs.table.node.defaultChild as CfnTable).pointInTimeRecoverySpecification = undefined;
    return hiwari;
  }

  it.each(STAGES)("finds nothing unacknowledged in the %s app", (stage) => {
    const { app, outdir } = hiwariApp(stage);
    expect(() => app.synth()).not.toThrow();
    expect(nagFindings(outdir)).toEqual([]);
  });

  it("runs on the app: a finding is reported (and the tests above fail on any)", () => {
    // cdk-nag 3 concludes "failure", and synthesis throws, on an error-level finding; a warning alone is only
    // reported. The "finds nothing unacknowledged" tests above are what keep warnings out too.
    const { app, outdir } = appWithoutPitr();
    app.synth();
    expect(nagFindings(outdir)).toEqual([
      { rule: "AwsSolutions-DDB3", severity: "warning", paths: ["HiwariStack/RunsTable/Table/Resource"] },
    ]);
  });

  it("lets a finding acknowledged on its construct through", () => {
    const { app, stack, outdir } = appWithoutPitr();
    Validations.of(stack.runs).acknowledge({ id: "AwsSolutions-DDB3", reason: "test: acknowledged on purpose" });
    expect(() => app.synth()).not.toThrow();
    expect(nagFindings(outdir)).toEqual([]);
  });
});
