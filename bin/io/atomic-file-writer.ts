import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { Utf8Batcher } from "./utf8-batcher";

/**
 * Writes a file in large buffers to a temporary name beside it and moves it into place only on `commit`, so a
 * run that fails leaves the target neither created nor changed. Writes are synchronous: the command has nothing
 * else to do meanwhile, a write to the page cache is short, and the caller may reuse a buffer once it is written.
 */
export class AtomicFileWriter {
  private readonly temp: string;
  private fd: number | undefined;
  /** Set by abort: the temporary file is gone and must not come back (a late write would leave it behind). */
  private aborted = false;
  private readonly pending = new Utf8Batcher((bytes) => this.put(bytes));

  constructor(readonly path: string) {
    this.temp = `${path}.tmp-${process.pid}`;
  }

  write(text: string): void {
    this.pending.write(text);
  }

  /** Writes bytes already encoded, after the text before them; `bytes` may be reused once this returns. */
  writeBytes(bytes: Uint8Array): void {
    this.pending.flush();
    this.put(bytes);
  }

  private put(bytes: Uint8Array): void {
    const fd = this.open();
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
  }

  /** Forgets everything written so far: the temporary file is empty again, and written from its start. */
  rewind(): void {
    this.pending.clear();
    const fd = this.open();
    this.fd = undefined;
    closeSync(fd);
    this.open(); // "w": truncated
  }

  /** Everything written so far is with the operating system (kept for callers that pace themselves on it). */
  async drain(): Promise<void> {
    this.pending.flush();
  }

  /**
   * Creates the temporary file now (its folder too), so that a path that cannot be written is found before any
   * work is done; throws the file system's error.
   */
  begin(): void {
    this.open();
  }

  /** Writes what is pending and closes the temporary file: the step that can fail (a full disk), before any move. */
  async finish(): Promise<void> {
    this.pending.flush();
    const fd = this.open();
    this.fd = undefined;
    closeSync(fd);
  }

  /** Moves the finished file into place. */
  publish(): void {
    renameSync(this.temp, this.path);
  }

  async commit(): Promise<void> {
    await this.finish();
    this.publish();
  }

  /**
   * Drops what was written: the target stays as it was. Never throws (it runs while another error is handled). Any
   * write after it throws, and never creates the temporary file again.
   */
  abort(): void {
    this.aborted = true;
    this.pending.clear();
    try {
      if (this.fd !== undefined) closeSync(this.fd);
    } catch {
      // already closed or never usable: nothing to release
    }
    this.fd = undefined;
    rmSync(this.temp, { force: true, maxRetries: 0 });
  }

  private open(): number {
    if (this.aborted) throw new Error(`${this.path}: written after its writing was given up (aborted)`);
    if (this.fd === undefined) {
      mkdirSync(dirname(this.temp), { recursive: true });
      this.fd = openSync(this.temp, "w");
    }
    return this.fd;
  }
}
