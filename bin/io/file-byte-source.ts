import { closeSync, openSync, readSync, statSync } from "node:fs";
import type { ByteSource } from "../../shared/engine/fast/fast-engine";

const CHUNK = 1 << 22;

/**
 * A subscriptions CSV file on disk as bytes, read afresh, 4 MiB at a time, on every pass. Read synchronously: the
 * engine has nothing else to do meanwhile, and a read from the page cache is far shorter than a trip through the
 * event loop and the thread pool.
 */
export class FileByteSource implements ByteSource {
  readonly size: number;
  /** How many times the file was begun to be read (`hiwari compute` shows it under HIWARI_DEBUG_READS). */
  reads = 0;

  constructor(readonly name: string) {
    this.size = statSync(name).size;
  }

  async *chunks(): AsyncIterable<Uint8Array> {
    this.reads++;
    const fd = openSync(this.name, "r");
    const chunk = new Uint8Array(CHUNK); // one buffer, refilled: the reader is done with a chunk when it asks again
    try {
      for (;;) {
        const read = readSync(fd, chunk, 0, CHUNK, null);
        if (read === 0) return;
        yield read === CHUNK ? chunk : chunk.subarray(0, read);
      }
    } finally {
      closeSync(fd);
    }
  }
}
