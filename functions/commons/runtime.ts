import type { S3Client } from "@aws-sdk/client-s3";
import type { S3Location } from "../../shared/api/run-request";
import type { ProposalStore } from "../../shared/pipeline/proposal";
import type { RunFiles, RunRef, SnapshotBytes } from "../../shared/pipeline/run-steps";
import type { RefundStore } from "../../shared/store/refund-store";
import { s3Client } from "./clients/s3";
import { requiredEnv, storeFromEnvironment } from "./environment";
import { runPrefix, S3RunFiles, S3Snapshot } from "./s3/s3-run-files";

/** A run's files, and where one of them is for the state machine to read (the manifest, for the Map). */
export interface RunFilesAt extends RunFiles {
  location(name: string): { bucket: string; key: string };
}

/**
 * What the run-step functions reach. On AWS: DynamoDB, the snapshot in S3, the run's prefix of the run bucket.
 * Under `hiwari run`: DynamoDB Local, a file, a folder. The handlers are the same; only this differs.
 */
export interface RunDeps {
  store: RefundStore;
  snapshotOf(location: S3Location): SnapshotBytes;
  filesOf(ref: RunRef): RunFilesAt;
  /**
   * Where proposals are kept: complete and fail settle the proposal a run applies (a run of an approval through
   * the finance API). Absent under `hiwari run`, whose approve settles its proposal itself.
   */
  proposals?: ProposalStore;
}

/** The AWS adapters: the snapshot pinned to its version in S3, the run's files under `runs/<incident>/<run>/`. */
export function s3RunDeps(store: RefundStore, s3: S3Client, runBucket: string, proposals?: ProposalStore): RunDeps {
  return {
    store,
    ...(proposals ? { proposals } : {}),
    snapshotOf: (location) => new S3Snapshot(s3, location),
    filesOf: (ref) => new S3RunFiles(s3, runBucket, runPrefix(ref)),
  };
}

let deps: RunDeps | undefined;

/** The deployed dependencies, from the environment CDK sets (built once per container, on the shared clients). */
export function runDepsFromEnvironment(): RunDeps {
  if (!deps) {
    const store = storeFromEnvironment(); // runs and proposals
    deps = s3RunDeps(store, s3Client(), requiredEnv("WORK_BUCKET"), store);
  }
  return deps;
}
