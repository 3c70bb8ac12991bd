import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Context } from "aws-lambda";
import type { RunDeps } from "../../functions/commons/runtime";
import type { RunFiles, SnapshotBytes } from "../../shared/pipeline/run-steps";
import type { RefundStore } from "../../shared/store/refund-store";

/** A subscriptions file on disk, streamed for prepare and read by byte range for each batch. */
export class FileSnapshot implements SnapshotBytes {
  constructor(readonly name: string) {}

  async *stream(): AsyncIterable<Uint8Array> {
    for await (const chunk of createReadStream(this.name, { highWaterMark: 1 << 20 })) yield chunk as Buffer;
  }

  async range(start: number, end: number): Promise<Uint8Array> {
    const file = await open(this.name, "r");
    try {
      const bytes = Buffer.alloc(end - start);
      let read = 0;
      while (read < bytes.length) {
        const { bytesRead } = await file.read(bytes, read, bytes.length - read, start + read);
        if (bytesRead === 0) break; // the file is shorter now: the batch's digest check says so
        read += bytesRead;
      }
      return bytes.subarray(0, read);
    } finally {
      await file.close();
    }
  }
}

/** A run's files in a folder (`<state>/runs/<runId>`), each written whole or not at all. */
export class FolderRunFiles implements RunFiles {
  constructor(readonly folder: string) {}

  async put(name: string, body: string): Promise<void> {
    const path = join(this.folder, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.partial`, body);
    await rename(`${path}.partial`, path);
  }

  get(name: string): Promise<string> {
    return readFile(join(this.folder, name), "utf8");
  }

  async putStream(name: string, body: AsyncIterable<string>): Promise<void> {
    const path = join(this.folder, name);
    await mkdir(dirname(path), { recursive: true });
    const file = await open(`${path}.partial`, "w");
    try {
      for await (const text of body) await file.write(text);
    } finally {
      await file.close();
    }
    await rename(`${path}.partial`, path);
  }

  location(name: string): { bucket: string; key: string } {
    return { bucket: LOCAL_BUCKET, key: join(this.folder, name) };
  }
}

/**
 * Where a local run's snapshot "is", in the shape the handlers take an S3 location: the bucket name says local,
 * the key is the file's path.
 */
export const LOCAL_BUCKET = "local";

/** Where a local run keeps its files (incident, manifest, plan, rejects, dry-run changes): `<state>/runs/<runId>`. */
export const runFolder = (stateDir: string, runId: string) => join(stateDir, "runs", runId);

/** The run-step handlers' dependencies under `hiwari run`: DynamoDB Local, files, the state folder. */
export function localRunDeps(store: RefundStore, stateDir: string): RunDeps {
  return {
    store,
    snapshotOf: (location) => new FileSnapshot(location.key),
    filesOf: (ref) => new FolderRunFiles(runFolder(stateDir, ref.runId)),
  };
}

/** A Lambda context for handlers invoked in process (their middlewares read it). */
export function localLambdaContext(functionName: string): Context {
  return {
    functionName,
    awsRequestId: "local",
    invokedFunctionArn: "local",
    memoryLimitInMB: "1024",
    functionVersion: "$LATEST",
    getRemainingTimeInMillis: () => 900_000,
  } as unknown as Context;
}
