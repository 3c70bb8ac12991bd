import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { RunFilesAt } from "../../../functions/commons/runtime";

/** The objects put into a run's files: how many, and the largest (S3's limit for one PUT is 5 GB). */
export interface ObjectTally {
  count: number;
  totalBytes: number;
  maxBytes: number;
  maxName: string;
}

export const emptyObjectTally = (): ObjectTally => ({ count: 0, totalBytes: 0, maxBytes: 0, maxName: "" });

export function addObjectTally(a: ObjectTally, b: ObjectTally): ObjectTally {
  a.count += b.count;
  a.totalBytes += b.totalBytes;
  if (b.maxBytes > a.maxBytes) {
    a.maxBytes = b.maxBytes;
    a.maxName = b.maxName;
  }
  return a;
}

/**
 * A run's files in a folder, as `FolderRunFiles` (bin/io/local-run-files.ts) keeps them, that also records the
 * size of every object put: the bench's stand-in for the run's prefix of the S3 bucket.
 */
export class MeasuredRunFiles implements RunFilesAt {
  constructor(
    readonly folder: string,
    private readonly tally: ObjectTally,
  ) {}

  private record(name: string, bytes: number): void {
    this.tally.count++;
    this.tally.totalBytes += bytes;
    if (bytes > this.tally.maxBytes) {
      this.tally.maxBytes = bytes;
      this.tally.maxName = name;
    }
  }

  async put(name: string, body: string): Promise<void> {
    const path = join(this.folder, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.partial`, body);
    await rename(`${path}.partial`, path);
    this.record(name, Buffer.byteLength(body));
  }

  /** A streamed object (a multipart upload on S3), written as it comes: its size is counted the same way. */
  async putStream(name: string, chunks: AsyncIterable<string>): Promise<void> {
    const path = join(this.folder, name);
    await mkdir(dirname(path), { recursive: true });
    const out = createWriteStream(`${path}.partial`);
    let bytes = 0;
    for await (const chunk of chunks) {
      bytes += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await once(out, "drain");
    }
    out.end();
    await once(out, "close");
    await rename(`${path}.partial`, path);
    this.record(name, bytes);
  }

  get(name: string): Promise<string> {
    return readFile(join(this.folder, name), "utf8");
  }

  location(name: string): { bucket: string; key: string } {
    return { bucket: "local", key: join(this.folder, name) };
  }
}
