/** The account and region the synthesised template is "deployed" to in tests. */
export const ACCOUNT = "123456789012";
export const REGION = "ap-northeast-1";
export const PARTITION = "aws";

/** A CloudFormation resource as it stands in a synthesised template. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

/** A Lambda function of the template, its tokens resolved. */
export interface DeployedFunction {
  logicalId: string;
  name: string;
  arn: string;
  /** `index.shardHandler`: the file and the export the runtime calls. */
  handler: string;
  /** The role's logical id: the principal of every call the function makes. */
  roleId: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  memorySize: number;
}

/** An EventBridge rule of the template: its pattern and the ARNs of its targets, tokens resolved. */
export interface DeployedRule {
  logicalId: string;
  arn: string;
  pattern: unknown;
  targets: string[];
}

/** Properties that name a resource explicitly (CloudFormation generates a name otherwise). */
const NAME_PROPERTIES: Record<string, string> = {
  "AWS::DynamoDB::Table": "TableName",
  "AWS::S3::Bucket": "BucketName",
  "AWS::Lambda::Function": "FunctionName",
  "AWS::StepFunctions::StateMachine": "StateMachineName",
  "AWS::Events::EventBus": "Name",
  "AWS::Events::Rule": "Name",
  "AWS::SQS::Queue": "QueueName",
  "AWS::Logs::LogGroup": "LogGroupName",
  "AWS::IAM::Role": "RoleName",
};

/**
 * A synthesised template as if deployed to {@link ACCOUNT} in {@link REGION}: every `Ref`, `Fn::GetAtt`,
 * `Fn::Join`, `Fn::Select`, `Fn::Split` and `Fn::Sub` resolved into the names and ARNs CloudFormation would give
 * (a name property when the template sets one, else `<stack>-<logical id>` as CloudFormation's generated names
 * start; bucket names lower-cased). The state machine's definition, the functions' environments and the IAM
 * policies are all read through it, so they agree with each other as they do once deployed.
 */
export class DeployedTemplate {
  readonly resources: Record<string, CfnResource>;

  constructor(
    template: { Resources: Record<string, CfnResource> },
    readonly stackName: string,
  ) {
    this.resources = template.Resources;
  }

  /**
   * The one resource of `type` whose logical id is `prefix` and CDK's 8-digit hash, or failing that, starts with
   * `prefix` (CDK's construct path without its hash).
   */
  logicalId(prefix: string, type?: string): string {
    const candidates = Object.keys(this.resources).filter(
      (id) => id.startsWith(prefix) && (type === undefined || this.resources[id]?.Type === type),
    );
    const exact = candidates.filter((id) => /^[0-9A-F]{8}$/.test(id.slice(prefix.length)));
    const ids = exact.length > 0 ? exact : candidates;
    if (ids.length !== 1) throw new Error(`${ids.length} resources${type ? ` of ${type}` : ""} start with ${prefix}`);
    return ids[0] as string;
  }

  ofType(type: string): string[] {
    return Object.keys(this.resources).filter((id) => this.resources[id]?.Type === type);
  }

  resource(logicalId: string): CfnResource {
    const r = this.resources[logicalId];
    if (!r) throw new Error(`no resource ${logicalId} in the template`);
    return r;
  }

  /** The physical name CloudFormation gives the resource. */
  physicalName(logicalId: string): string {
    const r = this.resource(logicalId);
    const property = NAME_PROPERTIES[r.Type];
    const named = property ? r.Properties?.[property] : undefined;
    if (named !== undefined) return this.resolveString(named);
    const generated = `${this.stackName}-${logicalId}`;
    if (r.Type === "AWS::S3::Bucket") return generated.toLowerCase().slice(0, 63);
    return generated.slice(0, 64);
  }

  /** What `Ref` gives for the resource (a name, an ARN or a URL, depending on its type, as CloudFormation says). */
  ref(logicalId: string): string {
    const r = this.resource(logicalId);
    const name = this.physicalName(logicalId);
    switch (r.Type) {
      case "AWS::StepFunctions::StateMachine":
        return `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
      case "AWS::SQS::Queue":
        return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
      case "AWS::IAM::Policy":
        return logicalId;
      default:
        return name;
    }
  }

  /** What `Fn::GetAtt [logicalId, attribute]` gives. */
  getAtt(logicalId: string, attribute: string): string {
    const r = this.resource(logicalId);
    const name = this.physicalName(logicalId);
    const key = `${r.Type}.${attribute}`;
    switch (key) {
      case "AWS::Lambda::Function.Arn":
        return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${name}`;
      case "AWS::DynamoDB::Table.Arn":
        return `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
      case "AWS::DynamoDB::Table.StreamArn":
        return `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${name}/stream/2024-01-01T00:00:00.000`;
      case "AWS::S3::Bucket.Arn":
        return `arn:${PARTITION}:s3:::${name}`;
      case "AWS::IAM::Role.Arn":
        return `arn:${PARTITION}:iam::${ACCOUNT}:role/${name}`;
      case "AWS::Logs::LogGroup.Arn":
        return `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${name}:*`;
      case "AWS::Events::EventBus.Arn":
        return `arn:${PARTITION}:events:${REGION}:${ACCOUNT}:event-bus/${name}`;
      case "AWS::Events::Rule.Arn":
        return `arn:${PARTITION}:events:${REGION}:${ACCOUNT}:rule/${name}`;
      case "AWS::SQS::Queue.Arn":
        return `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${name}`;
      case "AWS::StepFunctions::StateMachine.Arn":
        return this.ref(logicalId);
      case "AWS::StepFunctions::StateMachine.Name":
        return name;
      default:
        throw new Error(`the harness does not resolve Fn::GetAtt ${logicalId}.${attribute} (${r.Type})`);
    }
  }

  /** The value with every intrinsic function resolved (objects and arrays walked). */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== "object") return value;
    const v = value as Record<string, unknown>;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const [key] = keys as [string];
      const arg = v[key];
      if (key === "Ref") return this.pseudo(String(arg)) ?? this.ref(String(arg));
      if (key === "Fn::GetAtt") {
        const [id, attribute] = (typeof arg === "string" ? arg.split(".") : arg) as [string, string];
        return this.getAtt(id, attribute);
      }
      if (key === "Fn::Join") {
        const [separator, parts] = arg as [string, unknown[]];
        return (this.resolve(parts) as unknown[]).map(String).join(separator);
      }
      if (key === "Fn::Select") {
        const [index, list] = arg as [unknown, unknown];
        return (this.resolve(list) as unknown[])[Number(this.resolve(index))];
      }
      if (key === "Fn::Split") {
        const [separator, source] = arg as [string, unknown];
        return this.resolveString(source).split(separator);
      }
      if (key === "Fn::Sub") {
        const [text, vars] = (typeof arg === "string" ? [arg, {}] : arg) as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name in vars) return this.resolveString(vars[name]);
          const [id, attribute] = name.split(".") as [string, string | undefined];
          return this.pseudo(id) ?? (attribute ? this.getAtt(id, attribute) : this.ref(id));
        });
      }
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.resolve(x)]));
  }

  resolveString(value: unknown): string {
    const resolved = this.resolve(value);
    if (typeof resolved !== "string") throw new Error(`expected a string, resolved ${JSON.stringify(resolved)}`);
    return resolved;
  }

  private pseudo(name: string): string | undefined {
    const values: Record<string, string> = {
      "AWS::AccountId": ACCOUNT,
      "AWS::Region": REGION,
      "AWS::Partition": PARTITION,
      "AWS::URLSuffix": "amazonaws.com",
      "AWS::StackName": this.stackName,
    };
    return values[name];
  }

  /** Every Lambda function, with its handler, role, environment and limits. */
  functions(): DeployedFunction[] {
    return this.ofType("AWS::Lambda::Function").map((logicalId) => {
      const p = this.resource(logicalId).Properties ?? {};
      const role = p.Role as { "Fn::GetAtt": [string, string] } | undefined;
      const roleId = role?.["Fn::GetAtt"]?.[0];
      if (!roleId) throw new Error(`function ${logicalId}: its role is not a role of the template`);
      const variables = ((p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
        {}) as Record<string, unknown>;
      return {
        logicalId,
        name: this.physicalName(logicalId),
        arn: this.getAtt(logicalId, "Arn"),
        handler: String(p.Handler),
        roleId,
        environment: Object.fromEntries(Object.entries(variables).map(([k, x]) => [k, this.resolveString(x)])),
        timeoutSeconds: Number(p.Timeout ?? 3),
        memorySize: Number(p.MemorySize ?? 128),
      };
    });
  }

  /** The state machine `prefix`: its ARN, role and definition (the `DefinitionString` with its tokens resolved). */
  stateMachine(prefix: string) {
    const logicalId = this.logicalId(prefix, "AWS::StepFunctions::StateMachine");
    const p = this.resource(logicalId).Properties ?? {};
    const role = p.RoleArn as { "Fn::GetAtt": [string, string] };
    return {
      logicalId,
      arn: this.ref(logicalId),
      name: this.physicalName(logicalId),
      roleId: role["Fn::GetAtt"][0],
      definition: JSON.parse(this.resolveString(p.DefinitionString)) as unknown,
      loggingEnabled: p.LoggingConfiguration !== undefined,
    };
  }

  /** Every EventBridge rule, with its pattern and targets. */
  rules(): DeployedRule[] {
    return this.ofType("AWS::Events::Rule").map((logicalId) => {
      const p = this.resource(logicalId).Properties ?? {};
      return {
        logicalId,
        arn: this.getAtt(logicalId, "Arn"),
        pattern: this.resolve(p.EventPattern),
        targets: ((p.Targets ?? []) as { Arn: unknown }[]).map((t) => this.resolveString(t.Arn)),
      };
    });
  }
}
