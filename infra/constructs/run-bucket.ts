import { Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";

import { SNAPSHOTS_PREFIX } from "../../shared/api/run-request";

/** Where finance puts subscription snapshots: the only objects the API accepts as a run's snapshot. */
export { SNAPSHOTS_PREFIX };
/** Where each run keeps its files (manifest, plan, rejected rows, dry-run changes, run record). */
export const RUNS_PREFIX = "runs/";
/**
 * Where the Distributed Map's ResultWriter puts its children's results (`<prefix>/<map run id>/manifest.json`, …):
 * among the run files, apart from any run's own prefix (`runs/<incident>/run-…/`).
 */
export const MAP_RESULTS_PREFIX = `${RUNS_PREFIX}map-results`;

export interface RunBucketProps {
  readonly removalPolicy: RemovalPolicy;
  /** How long a replaced or deleted snapshot version is kept (the audit trail of what a run read). */
  readonly noncurrentVersionRetention: Duration;
}

/**
 * The bucket for snapshots and run files: versioned (a run pins the snapshot version it read), encrypted,
 * TLS only, never public, with server access logs in a bucket of their own.
 */
export class RunBucket extends Construct {
  readonly bucket: Bucket;
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: RunBucketProps) {
    super(scope, id);
    const common = {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: props.removalPolicy,
    };
    this.accessLogs = new Bucket(this, "AccessLogs", {
      ...common,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED, // the S3 log delivery writes with ACLs
      lifecycleRules: [{ expiration: Duration.days(400) }],
    });
    this.bucket = new Bucket(this, "Bucket", {
      ...common,
      versioned: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: "run-bucket/",
      lifecycleRules: [
        {
          noncurrentVersionExpiration: props.noncurrentVersionRetention,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    Validations.of(this.accessLogs).acknowledge({
      id: "AwsSolutions::AwsSolutions-S1",
      reason: "This is the access-log bucket itself: logging its own access would log forever.",
    });
  }
}
