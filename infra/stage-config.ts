import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Node } from "constructs";

/** The deployment stages. Chosen with `-c stage=<name>`; `dev` when not given. */
export const STAGE_NAMES = ["dev", "prod"] as const;

export type StageName = (typeof STAGE_NAMES)[number];

/** The context key that selects the stage (`cdk synth -c stage=prod`). */
export const STAGE_CONTEXT_KEY = "stage";

export const DEFAULT_STAGE: StageName = "dev";

/**
 * Everything that differs between stages: data lifetime (removal, deletion protection, archive, log and
 * snapshot-version retention) and whether a rerun needs four eyes. Both stages build the same resources.
 */
export interface StageConfig {
  readonly stageName: StageName;
  /** What CloudFormation does with stateful resources (the tables) when they leave the stack. */
  readonly removalPolicy: RemovalPolicy;
  /** DynamoDB deletion protection: the table cannot be deleted, by CloudFormation or anyone, while it is on. */
  readonly deletionProtection: boolean;
  /** How long the event bus archive keeps events for replay. */
  readonly archiveRetention: Duration;
  /** How long the functions', state machine's and API's logs are kept. */
  readonly logRetention: RetentionDays;
  /** How long a replaced or deleted snapshot version is kept in the run bucket. */
  readonly noncurrentVersionRetention: Duration;
  /**
   * Four eyes on reruns: the runs POST refuses a run that writes lines for an incident that has one already,
   * unless it comes through an approved proposal (`POST …/proposals`, another person's `…/approve`). Dry runs and
   * an incident's first run are never refused. Given to start-run as REQUIRE_PROPOSAL_FOR_RERUNS.
   */
  readonly requireProposalForReruns: boolean;
}

const STAGE_CONFIGS: Readonly<Record<StageName, StageConfig>> = {
  dev: {
    stageName: "dev",
    removalPolicy: RemovalPolicy.DESTROY,
    deletionProtection: false,
    archiveRetention: Duration.days(7),
    logRetention: RetentionDays.ONE_MONTH,
    noncurrentVersionRetention: Duration.days(30),
    requireProposalForReruns: false,
  },
  prod: {
    stageName: "prod",
    removalPolicy: RemovalPolicy.RETAIN,
    deletionProtection: true,
    archiveRetention: Duration.days(400),
    logRetention: RetentionDays.THIRTEEN_MONTHS,
    noncurrentVersionRetention: Duration.days(400),
    requireProposalForReruns: true,
  },
};

export function isStageName(value: unknown): value is StageName {
  return typeof value === "string" && (STAGE_NAMES as readonly string[]).includes(value);
}

export function stageConfig(stageName: StageName): StageConfig {
  return STAGE_CONFIGS[stageName];
}

/**
 * The stage config selected by the `stage` context value of `node` (from `-c stage=…`, cdk.json or
 * `new App({ context })`), `dev` when absent. Throws on any other value rather than guess: a typo
 * must not quietly deploy the dev settings (DESTROY, no deletion protection).
 */
export function stageConfigFromContext(node: Node): StageConfig {
  const raw: unknown = node.tryGetContext(STAGE_CONTEXT_KEY);
  if (raw === undefined) return stageConfig(DEFAULT_STAGE);
  if (!isStageName(raw)) {
    throw new Error(
      `Unknown stage ${JSON.stringify(raw)} in context "${STAGE_CONTEXT_KEY}": expected one of ${STAGE_NAMES.join(", ")}`,
    );
  }
  return stageConfig(raw);
}
