import { fileURLToPath } from "node:url";
import { Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { type BundlingOptions, NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { sourceBuild } from "../../scripts/source-build.mjs";
import { acknowledgeWildcard, arnOf } from "../nag";

/**
 * How every function is bundled: by the local esbuild (no Docker), minified ESM with a source map, and `require`
 * provided for the CommonJS dependencies. Nothing is external, the AWS SDK v3 included: a function runs the SDK
 * pinned in package-lock.json and tested, not whichever version its runtime ships that month, and loads one file
 * instead of resolving the runtime's SDK modules at cold start (docs/performance.md, "Function bundles"). Each bundle
 * carries the build it is (`HIWARI_BUILD`: a hash of the sources, functions/commons/build.ts), which a run's steps
 * compare.
 */
export const BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  define: { "process.env.HIWARI_BUILD": JSON.stringify(sourceBuild(fileURLToPath(new URL("../..", import.meta.url)))) },
  minify: true,
  sourceMap: true,
  externalModules: [],
  mainFields: ["module", "main"],
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
};

export interface HiwariFunctionProps {
  /** The handler file, relative to `functions/` (`compute-batch/handler.ts`). */
  readonly entry: string;
  /** The exported handler; `handler` unless the file exports several. */
  readonly handler?: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Why any other action granted on `*` has to be (said in the cdk-nag acknowledgement). */
  readonly otherWildcards?: string;
}

/**
 * One hiwari Lambda function as every one of them is built: ARM64, nodejs22.x, bundled by the local esbuild (no
 * Docker) as minified ESM with the AWS SDK v3 inside ({@link BUNDLING}), X-Ray tracing, its own log group with
 * the stage's retention, and its own role that starts with nothing but writing to that log group. Each function
 * is then granted exactly what it calls, with {@link HiwariFunction.allow}.
 */
export class HiwariFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: HiwariFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, "Logs", { retention: props.logRetention, removalPolicy: props.removalPolicy });
    this.role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `${props.description}: logs to its own group, and only the calls it makes`,
    });
    this.fn = new NodejsFunction(this, "Function", {
      description: props.description,
      entry: new URL(`../../functions/${props.entry}`, import.meta.url).pathname,
      handler: props.handler ?? "handler",
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      environment: {
        POWERTOOLS_SERVICE_NAME: "hiwari",
        POWERTOOLS_METRICS_NAMESPACE: "hiwari",
        NODE_OPTIONS: "--enable-source-maps",
        ...props.environment,
      },
      bundling: BUNDLING,
    });
    this.logGroup.grantWrite(this.role);

    Validations.of(this.fn).acknowledge({
      id: "AwsSolutions::AwsSolutions-L1",
      reason:
        "The design fixes the Lambda runtime at nodejs22.x (ARM64); moving runtime is a deliberate, tested change.",
    });
    Validations.of(this.role).acknowledge({
      id: "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
      reason: [
        "xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) support no resource-level permission",
        props.otherWildcards,
      ]
        .filter(Boolean)
        .join("; "),
    });
  }

  /** Grants exactly these actions on the objects under `prefix` of `bucket`, and nothing else of it. */
  allowObjects(actions: string[], bucket: IBucket, prefix: string): this {
    this.allow(actions, [bucket.arnForObjects(`${prefix}*`)]);
    acknowledgeWildcard(
      this.role,
      `${arnOf(bucket)}/${prefix}*`,
      `objects under ${prefix} only: ${prefix === "runs/" ? "each run's files" : "the snapshots finance uploads"}`,
    );
    return this;
  }

  /** Grants exactly these actions on exactly these resources. */
  allow(actions: string[], resources: string[]): this {
    this.role.addToPrincipalPolicy(new PolicyStatement({ actions, resources }));
    return this;
  }
}

/** The API functions' time limit (API Gateway's own integration timeout); the run's are in RUN_FUNCTION_SIZES. */
export const FUNCTION_TIMEOUTS = { api: Duration.seconds(29) } as const;
