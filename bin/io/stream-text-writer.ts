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

  async drain(): Promise<void> {
    this.flush();
    if (this.stream.writableNeedDrain) await new Promise<void>((resolve) => this.stream.once("drain", resolve));
  }

  async commit(): Promise<void> {
    await this.drain();
  }

  abort(): void {
    this.pending.clear();
  }

  private flush(): void {
    this.pending.flush();
  }
}
