import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import { createHiwariApp, type HiwariApp } from "../../infra/hiwari-app";

const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as {
  context?: Record<string, unknown>;
};

/**
 * The hiwari app of `stage`, synthesised into a temporary folder (removed by `dispose`), cdk-nag on. The functions
 * are not bundled (`aws:cdk:bundling-stacks` empty): the tests read the template, and bundling the eight function
 * bundles with the AWS SDK inside took 20 s of esbuild a synth on a loaded machine (7 s with the SDK external).
 * `npm run synth` and test/infra/constructs/hiwari-function.test.ts bundle for real.
 */
export function synthApp(stage: "dev" | "prod" = "prod") {
  const outdir = mkdtempSync(join(tmpdir(), "hiwari-cdk-"));
  const app: HiwariApp = createHiwariApp({
    context: { ...cdkJson.context, stage, "aws:cdk:bundling-stacks": [] },
    outdir,
    builtinCloudFormationValidation: false,
  });
  const template = Template.fromStack(app.stack);
  return { ...app, template, outdir, dispose: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** The logical id of the one resource whose id is `prefix` and CDK's 8-digit hash. */
export function logicalId(template: Template, prefix: string): string {
  const ids = Object.keys(template.toJSON().Resources).filter((k) => new RegExp(`^${prefix}[0-9A-F]{8}$`).test(k));
  if (ids.length !== 1) throw new Error(`${ids.length} resources start with ${prefix}: ${ids.join(", ")}`);
  return ids[0] as string;
}

/** A template value as text: `Ref`/`GetAtt` by logical id without CDK's hash, `Fn::Join` joined, pseudo params kept. */
export function render(value: unknown): string {
  if (typeof value === "string") return value;
  const v = value as Record<string, unknown>;
  const bare = (id: string) => id.replace(/[0-9A-F]{8}$/, "");
  if ("Ref" in v) return String(v.Ref).startsWith("AWS::") ? `<${v.Ref}>` : bare(String(v.Ref));
  if ("Fn::GetAtt" in v) {
    const [id, attribute] = v["Fn::GetAtt"] as [string, string];
    return `${bare(id)}.${attribute}`;
  }
  if ("Fn::Join" in v) {
    const [separator, parts] = v["Fn::Join"] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  if ("Fn::Select" in v) {
    const [index, list] = v["Fn::Select"] as [number, unknown];
    return `select(${index}, ${render(list)})`;
  }
  if ("Fn::Split" in v) {
    const [separator, source] = v["Fn::Split"] as [string, unknown];
    return `split(${separator}, ${render(source)})`;
  }
  return JSON.stringify(value);
}

type Statement = {
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
};
type PolicyDocument = { Statement: Statement[] };

/** One `Allow <action> on <resource>` line per action and resource of the statements (conditions appended). */
function linesOf(statements: readonly Statement[]): string[] {
  const lines: string[] = [];
  for (const s of statements) {
    // NotAction / NotResource grant everything but what they name: never expected, so shown whole to fail loudly.
    if (s.NotAction !== undefined || s.NotResource !== undefined) {
      lines.push(`${s.Effect} NOT ${JSON.stringify(s)}`);
      continue;
    }
    const when = s.Condition === undefined ? "" : ` when ${JSON.stringify(s.Condition)}`;
    for (const action of [s.Action].flat())
      for (const resource of [s.Resource].flat()) lines.push(`${s.Effect} ${action} on ${render(resource)}${when}`);
  }
  return lines;
}

/** The bare logical ids (`FinanceApiStartRunRole`, without CDK's hash) of every IAM role of the template. */
export function rolesOf(template: Template): string[] {
  return Object.keys(template.findResources("AWS::IAM::Role"))
    .map((id) => id.replace(/[0-9A-F]{8}$/, ""))
    .sort();
}

/**
 * Everything granted to the role `rolePrefix`, one `Allow <action> on <resource>` line per action and resource
 * (however CDK merged them into statements; ` when {…}` if conditioned), sorted: what least privilege is asserted
 * against, exactly. Counts every way a role gets permissions: policies attached to it (AWS::IAM::Policy and
 * AWS::IAM::ManagedPolicy), its inline policies, and its managed policy ARNs (`managed <arn>`).
 */
export function grantsOf(template: Template, rolePrefix: string): string[] {
  const roleId = logicalId(template, rolePrefix);
  const lines: string[] = [];
  const attached = [
    ...Object.values(template.findResources("AWS::IAM::Policy")),
    ...Object.values(template.findResources("AWS::IAM::ManagedPolicy")),
  ] as { Properties: { Roles?: unknown[]; PolicyDocument: PolicyDocument } }[];
  for (const policy of attached) {
    if (!(policy.Properties.Roles ?? []).some((r) => (r as { Ref?: string }).Ref === roleId)) continue;
    lines.push(...linesOf(policy.Properties.PolicyDocument.Statement));
  }
  const role = template.toJSON().Resources[roleId] as {
    Properties: { ManagedPolicyArns?: unknown[]; Policies?: { PolicyDocument: PolicyDocument }[] };
  };
  for (const inline of role.Properties.Policies ?? []) lines.push(...linesOf(inline.PolicyDocument.Statement));
  for (const arn of role.Properties.ManagedPolicyArns ?? []) lines.push(`managed ${render(arn)}`);
  return lines.sort();
}
