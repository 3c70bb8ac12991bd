import type { Writable } from "node:stream";
import { Utf8Batcher } from "./utf8-batcher";

/** Writes text to an open stream (stdout, stderr) in large buffers, with backpressure. */
export class StreamTextWriter {
  private readonly pending: Utf8Batcher;

  constructor(private readonly stream: Writable) {
    this.pending = new Utf8Batcher((bytes) => this.stream.write(bytes), 1 << 16);
  }

  write(text: string): void {
    this.pending.write(text);
  }

  /** Writes bytes already encoded, after the text before them; `bytes` may be reused once this returns. */
  writeBytes(bytes: Uint8Array): void {
    this.flush();
    this.stream.write(Buffer.from(bytes)); // a copy: the stream keeps what it is given until it is written
  }

  async drain(): Promise<void> {
    this.flush();
    if (this.stream.writableNeedDrain) await new Promise<void>((resolve) => this.stream.once("drain", resolve));
  }

  async commit(): Promise<void> {
    await this.drain();
  }

  /** As AtomicFileWriter's: all written; nothing to move into place. */
  async finish(): Promise<void> {
    await this.drain();
  }

  publish(): void {}

  abort(): void {
    this.pending.clear();
  }

  private flush(): void {
    this.pending.flush();
  }
}
