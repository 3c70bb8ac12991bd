import type { Writable } from "node:stream";

/** Writes text to an open stream (stdout, stderr) in large buffers, with backpressure. */
export class StreamTextWriter {
  private pending: string[] = [];
  private pendingLength = 0;

  constructor(private readonly stream: Writable) {}

  write(text: string): void {
    this.pending.push(text);
    this.pendingLength += text.length;
    if (this.pendingLength >= 1 << 16) this.flush();
  }

  async drain(): Promise<void> {
    this.flush();
    if (this.stream.writableNeedDrain) await new Promise<void>((resolve) => this.stream.once("drain", resolve));
  }

  async commit(): Promise<void> {
    await this.drain();
  }

  abort(): void {
    this.pending = [];
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.stream.write(this.pending.join(""));
    this.pending = [];
    this.pendingLength = 0;
  }
}
