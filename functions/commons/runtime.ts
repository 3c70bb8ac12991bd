import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import type { RefundStore } from "../../shared/store/refund-store";
import { DynamoDbRefundStore } from "./dynamodb/dynamodb-refund-store";
import { tracer } from "./powertools/powertools";

/** What the run-step functions reach: the store, S3 (snapshots and the work bucket). */
export interface RunDeps {
  store: RefundStore;
  s3: S3Client;
  /** The bucket where runs keep their files (manifest, plan, rejects, dry-run changes). */
  workBucket: string;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment: ${name} is not set`);
  return value;
}

let deps: RunDeps | undefined;

/** The deployed dependencies, from the environment CDK sets (built once per container, clients traced). */
export function runDepsFromEnvironment(): RunDeps {
  deps ??= {
    store: new DynamoDbRefundStore(tracer.captureAWSv3Client(new DynamoDBClient({})), {
      refunds: required("REFUNDS_TABLE"),
      runs: required("RUNS_TABLE"),
    }),
    s3: tracer.captureAWSv3Client(new S3Client({})),
    workBucket: required("WORK_BUCKET"),
  };
  return deps;
}
