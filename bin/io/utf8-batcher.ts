/**
 * Gathers text as UTF-8 bytes in one reused-size buffer and hands it on when full: the text is encoded once,
 * straight into the buffer, instead of being joined into a large string and encoded again on write.
 */
export class Utf8Batcher {
  private buffer: Buffer;
  private used = 0;

  constructor(
    private readonly emit: (bytes: Buffer) => void,
    private readonly capacity = 1 << 20,
  ) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  get pendingBytes(): number {
    return this.used;
  }

  write(text: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8: with that much room, the text always fits whole.
    if (text.length * 3 > this.capacity - this.used) {
      this.flush();
      if (text.length * 3 > this.capacity) {
        this.emit(Buffer.from(text, "utf8"));
        return;
      }
    }
    this.used += this.buffer.write(text, this.used, "utf8");
  }

  /** Hands on what is gathered; the buffer handed on is never written again (the stream may hold it). */
  flush(): void {
    if (this.used === 0) return;
    this.emit(this.buffer.subarray(0, this.used));
    this.buffer = Buffer.allocUnsafe(this.capacity);
    this.used = 0;
  }

  /** Forgets what is gathered. */
  clear(): void {
    this.used = 0;
  }
}
