import type { DeployedTemplate } from "./deployed-template";

/** One IAM statement with its tokens resolved. */
export interface Statement {
  Effect: "Allow" | "Deny";
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: unknown;
}

/** Who makes a call: the role (its logical id in the template) and, for reading, what acted under it. */
export interface Principal {
  roleId: string;
  /** `RunPipelineComputeBatchFunction…` or `RunPipelineStateMachine… (ItemReader)`. */
  actor: string;
}

/** One AWS call as IAM authorizes it: an action on a resource (one call may need several: BatchWriteItem on two tables). */
export interface AwsCall {
  principal: Principal;
  /** `s3:GetObject`, `dynamodb:BatchWriteItem`, `states:StartExecution`, … */
  action: string;
  resource: string;
  /** The API operation as the SDK names it (`GetObjectCommand`), for the report. */
  operation: string;
  allowed: boolean;
  /** Why not, when not allowed. */
  reason?: string;
}

/** IAM's wildcards: `*` any run of characters, `?` one; case-insensitive for actions. */
function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, ignoreCase ? "is" : "s").test(value);
}

/**
 * An ARN against a policy's resource pattern: partition, service, region and account segment by segment, then the
 * resource part, where a `*` spans `/` and `:` (as `bucket-arn/runs/*` covers every key under `runs/`).
 */
export function arnMatches(pattern: string, arn: string): boolean {
  if (pattern === "*") return true;
  const split = (a: string) => {
    const parts = a.split(":");
    return [...parts.slice(0, 5), parts.slice(5).join(":")];
  };
  const p = split(pattern);
  const a = split(arn);
  if (p.length !== a.length) return false;
  return p.every((segment, i) => globMatch(segment, a[i] as string));
}

const list = (x: string | string[] | undefined): string[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

function statementApplies(s: Statement, action: string, resource: string): boolean {
  const actionOk =
    s.Action !== undefined
      ? list(s.Action).some((a) => globMatch(a, action, true))
      : !list(s.NotAction).some((a) => globMatch(a, action, true));
  const resourceOk =
    s.Resource !== undefined
      ? list(s.Resource).some((r) => arnMatches(r, resource))
      : !list(s.NotResource).some((r) => arnMatches(r, resource));
  return actionOk && resourceOk;
}

/**
 * The identity policies of each role of a template (AWS::IAM::Policy and AWS::IAM::ManagedPolicy attached to it,
 * its inline policies), tokens resolved, and IAM's evaluation of one action on one resource: an explicit Deny
 * wins, else any Allow, else implicitly denied. A statement with a Condition never allows here (the harness
 * cannot know the request context): a test that needs one should say so. AWS managed policies (by ARN) are
 * not read: a role relying on one shows up as denied.
 */
export class IamPolicies {
  private readonly statements = new Map<string, Statement[]>();

  constructor(private readonly template: DeployedTemplate) {
    for (const type of ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"])
      for (const id of template.ofType(type)) {
        const p = template.resource(id).Properties ?? {};
        const document = template.resolve(p.PolicyDocument) as { Statement: Statement[] };
        for (const role of (p.Roles ?? []) as { Ref?: string }[])
          if (role.Ref) this.statementsOf(role.Ref).push(...document.Statement);
      }
    for (const id of template.ofType("AWS::IAM::Role")) {
      const inline = (template.resource(id).Properties?.Policies ?? []) as { PolicyDocument: unknown }[];
      for (const policy of inline)
        this.statementsOf(id).push(
          ...(template.resolve(policy.PolicyDocument) as { Statement: Statement[] }).Statement,
        );
    }
  }

  private statementsOf(roleId: string): Statement[] {
    let s = this.statements.get(roleId);
    if (!s) {
      s = [];
      this.statements.set(roleId, s);
    }
    return s;
  }

  /** Whether the role may do `action` on `resource`, and if not, why. */
  evaluate(roleId: string, action: string, resource: string): { allowed: boolean; reason?: string } {
    if (!this.template.resources[roleId]) return { allowed: false, reason: `no role ${roleId} in the template` };
    const statements = this.statements.get(roleId) ?? [];
    const applying = statements.filter((s) => statementApplies(s, action, resource));
    if (applying.some((s) => s.Effect === "Deny")) return { allowed: false, reason: "explicitly denied" };
    if (applying.some((s) => s.Effect === "Allow" && s.Condition === undefined)) return { allowed: true };
    if (applying.some((s) => s.Effect === "Allow"))
      return { allowed: false, reason: "allowed only under a Condition the harness does not evaluate" };
    return { allowed: false, reason: "no statement of the role's policies allows it" };
  }
}

/** How a call outside the caller's policy is answered: refused as AWS would (AccessDenied), or only recorded. */
export type Enforcement = "deny" | "record";

/**
 * Every AWS call the fakes and DynamoDB Local received, each checked against its caller's policies. A test asserts
 * `violations()` is empty: a call outside the caller's policy then fails it, listing the call.
 */
export class AwsCallLog {
  readonly calls: AwsCall[] = [];

  constructor(
    private readonly policies: IamPolicies,
    readonly enforcement: Enforcement = "deny",
  ) {}

  /** Records the call; returns it (with `allowed`) so the fake can refuse it. */
  record(principal: Principal, operation: string, action: string, resource: string): AwsCall {
    const verdict = this.policies.evaluate(principal.roleId, action, resource);
    const call: AwsCall = { principal, operation, action, resource, ...verdict };
    this.calls.push(call);
    return call;
  }

  /** Records a call authorized otherwise than by a role's policies (a resource-based policy, for a service). */
  recordVerdict(
    principal: Principal,
    operation: string,
    action: string,
    resource: string,
    verdict: { allowed: boolean; reason?: string },
  ): AwsCall {
    const call: AwsCall = { principal, operation, action, resource, ...verdict };
    this.calls.push(call);
    return call;
  }

  /** Whether the role may do it, without recording a call (S3's 403-or-404 answer depends on s3:ListBucket). */
  wouldAllow(principal: Principal, action: string, resource: string): boolean {
    return this.policies.evaluate(principal.roleId, action, resource).allowed;
  }

  /** Whether the fake should refuse this call (AccessDenied) rather than serve it. */
  refuses(call: AwsCall): boolean {
    return !call.allowed && this.enforcement === "deny";
  }

  /** A mark to read the calls made after it (`since(mark)`). */
  mark(): number {
    return this.calls.length;
  }

  since(mark: number): AwsCall[] {
    return this.calls.slice(mark);
  }

  violations(): string[] {
    return this.calls.filter((c) => !c.allowed).map(describeCall);
  }
}

/** `RunPipelineComputeBatchFunction… (role RunPipelineComputeBatchRole…): s3:PutObject on arn:… [PutObjectCommand]: why`. */
export function describeCall(c: AwsCall): string {
  return `${c.principal.actor} (role ${c.principal.roleId}): ${c.action} on ${c.resource} [${c.operation}]${
    c.reason ? `: ${c.reason}` : ""
  }`;
}
