import { createWriteStream, mkdirSync, renameSync, rmSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import { Utf8Batcher } from "./utf8-batcher";

/**
 * Writes a file in large buffers to a temporary name beside it and moves it into place only on `commit`, so a
 * run that fails leaves the target neither created nor changed.
 */
export class AtomicFileWriter {
  private readonly temp: string;
  private stream: WriteStream | undefined;
  private readonly pending = new Utf8Batcher((bytes) => this.open().write(bytes));

  constructor(readonly path: string) {
    this.temp = `${path}.tmp-${process.pid}`;
  }

  write(text: string): void {
    this.pending.write(text);
  }

  /** Resolves when the buffered text has gone to the operating system (backpressure for the producer). */
  async drain(): Promise<void> {
    this.flush();
    const stream = this.stream;
    if (stream?.writableNeedDrain) await new Promise<void>((resolve) => stream.once("drain", resolve));
  }

  async commit(): Promise<void> {
    this.flush();
    const stream = this.open();
    await new Promise<void>((resolve, reject) => {
      stream.once("error", reject);
      stream.end(resolve);
    });
    mkdirSync(dirname(this.path), { recursive: true });
    renameSync(this.temp, this.path);
  }

  /** Drops what was written: the target stays as it was. */
  abort(): void {
    this.stream?.destroy();
    rmSync(this.temp, { force: true });
  }

  private open(): WriteStream {
    if (!this.stream) {
      mkdirSync(dirname(this.temp), { recursive: true });
      this.stream = createWriteStream(this.temp);
    }
    return this.stream;
  }

  private flush(): void {
    this.pending.flush();
  }
}
