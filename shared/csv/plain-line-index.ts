import { MAX_RECORD_BYTES } from "./csv-record-reader";
import { PLAIN_LINE_INDEX_WASM } from "./plain-line-index.wasm";

/**
 * What the scan in plain-line-index.wat makes of a line: plain (split in place), empty, or one for the CSV reader.
 * The judgement is `SnapshotScanner`'s (see there); the WebAssembly only makes it 16 bytes at a time.
 */
export const PLAIN = 0;
export const EMPTY = 1;
export const OTHER = 2;

/** How much one call scans: at most `window` bytes, and at most `records` lines. */
export interface LineIndexSize {
  window: number;
  records: number;
}

/**
 * 128 KiB a window and up to 4,096 lines a scan (windows of 32 KiB to 1 MiB ran the 1M bench's case equally fast; a
 * line longer than a window is judged byte by byte, whatever it is).
 */
export const DEFAULT_LINE_INDEX_SIZE: LineIndexSize = { window: 1 << 17, records: 4096 };

/** Throws a RangeError unless both the window and the records a scan may hold are whole numbers of at least 1. */
export function checkLineIndexSize(size: LineIndexSize): void {
  const whole = (n: number) => Number.isSafeInteger(n) && n >= 1;
  if (!whole(size.window) || !whole(size.records))
    throw new RangeError(`a line index needs a window and records of at least 1 (got ${JSON.stringify(size)})`);
}

/** The most bytes of records an instance's memory holds: a very wide header makes a scan record fewer lines. */
const RECORDS_BYTES = 1 << 20;

/** The few parts of the WebAssembly API used here (the project's TypeScript libraries do not declare it). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => CompiledModule;
  Instance: new (module: CompiledModule, imports: { env: { memory: WasmMemory } }) => { exports: unknown };
  Memory: new (size: { initial: number; maximum: number }) => WasmMemory;
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
type CompiledModule = { readonly compiled: unique symbol };

interface ScanExports {
  next: { value: number };
  scan(begin: number, len: number, width: number, out: number, max: number, maxBytes: number): number;
}

const PAGE = 65_536;
/** The scan reads 16 bytes at a time, so up to 15 past the window's end: they must be memory. */
const OVERREAD = 16;

/** The runtime's WebAssembly, or undefined where there is none (`node --jitless`, say). */
const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;

let compiled: CompiledModule | null | undefined;

/** The module, compiled once per thread; null where WebAssembly with SIMD is not available. */
function compiledModule(): CompiledModule | null {
  if (compiled === undefined) {
    try {
      const bytes = Uint8Array.from(atob(PLAIN_LINE_INDEX_WASM), (c) => c.charCodeAt(0));
      compiled = api === undefined ? null : new api.Module(bytes);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/**
 * Idle indexes of this thread, the most recently given back last: a scanner borrows one of its width and size for a
 * chunk. At most IDLE_LIMIT in all (up to a few MiB each), so that a process that reads snapshots of many widths
 * does not keep an index for each: the longest idle is let go.
 */
const idle: PlainLineIndex[] = [];
const IDLE_LIMIT = 8;

/**
 * The lines of a window of bytes, found by the WebAssembly scan: a window is copied into the instance's memory
 * (`load`), scanned from a line's start on (`scan`, as often as the caller needs), and its records read back.
 * Borrowed (`acquire`) by a scanner for one chunk, then given back (`release`), so that the many scanners of a run
 * (one per byte range on a thread) share a few instances and their memory, and a scanner that runs inside another's
 * visit gets an instance of its own.
 */
export class PlainLineIndex {
  /** Where the records start in memory: after the window and the bytes the scan may read past it. */
  private readonly out: number;
  /** The same, counted in 32-bit words: record `r` starts at word `outWord + r * stride`. */
  private readonly outWord: number;
  private readonly stride: number;
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private readonly exports: ScanExports;
  /** The most lines one scan records: `size.records`, fewer for a very wide header. */
  private readonly records: number;
  /** The caller's indexes of the loaded window: `begin` is at memory address 0. */
  private begin = 0;
  private end = 0;

  /**
   * An index for lines of `width` fields, or undefined where WebAssembly with SIMD is not available (or its memory
   * cannot be had): the caller then reads byte by byte.
   */
  static acquire(width: number, size: LineIndexSize): PlainLineIndex | undefined {
    checkLineIndexSize(size);
    for (let k = idle.length - 1; k >= 0; k--) {
      const index = idle[k] as PlainLineIndex;
      if (index.width === width && index.size.window === size.window && index.size.records === size.records)
        return idle.splice(k, 1)[0];
    }
    const module = compiledModule();
    if (module === null) return undefined;
    try {
      return new PlainLineIndex(module, width, size);
    } catch {
      return undefined; // memory refused
    }
  }

  /** Gives the index back: the caller reads nothing of it any more. */
  release(): void {
    idle.push(this);
    if (idle.length > IDLE_LIMIT) idle.shift();
  }

  /** How many indexes this thread keeps idle (for tests). */
  static get idleCount(): number {
    return idle.length;
  }

  private constructor(
    module: CompiledModule,
    readonly width: number,
    readonly size: LineIndexSize,
  ) {
    this.out = Math.ceil((size.window + OVERREAD) / 16) * 16;
    this.outWord = this.out >> 2;
    this.stride = width + 3;
    this.records = Math.max(1, Math.min(size.records, Math.floor(RECORDS_BYTES / (this.stride * 4))));
    const pages = Math.ceil((this.out + this.records * this.stride * 4) / PAGE);
    const wasm = api as WebAssemblyApi; // there is a module, so there is WebAssembly
    // Made at its final size and never grown: growing detaches the old buffer, and the first detached buffer of a
    // process makes V8 check for detachment at every typed-array access from then on (about 10% of a run).
    const memory = new wasm.Memory({ initial: pages, maximum: pages });
    this.exports = new wasm.Instance(module, { env: { memory } }).exports as ScanExports;
    this.bytes = new Uint8Array(memory.buffer);
    this.words = new Int32Array(memory.buffer);
  }

  /** Copies `bytes[begin … end)` (at most `size.window` bytes) in, the window the next scans read. */
  load(bytes: Uint8Array, begin: number, end: number): void {
    if (end < begin || end - begin > this.size.window)
      throw new RangeError(`a window of ${end - begin} bytes (at most ${this.size.window})`);
    this.bytes.set(bytes.subarray(begin, end), 0);
    this.begin = begin;
    this.end = end;
  }

  /** The caller's index where the loaded window begins. */
  get loadedBegin(): number {
    return this.begin;
  }

  /** The caller's index where the loaded window ends. */
  get loadedEnd(): number {
    return this.end;
  }

  /**
   * Scans the loaded window from the caller's index `from` (a line's start, in the window) and returns how many
   * complete lines it recorded, at least 1 and at most `max` of them (and the index's own limit) if there are.
   * `next` is then where the caller goes on.
   */
  scan(from: number, max: number): number {
    if (from < this.begin || from > this.end) throw new RangeError(`${from} is outside the loaded window`);
    const limit = Math.max(1, Math.min(max, this.records));
    return this.exports.scan(from - this.begin, this.end - this.begin, this.width, this.out, limit, MAX_RECORD_BYTES);
  }

  /** The caller's index of the first byte after the last recorded line (or of an incomplete line). */
  get next(): number {
    return this.begin + this.exports.next.value;
  }

  /** Record `r`'s kind: PLAIN, EMPTY or OTHER. */
  kind(r: number): number {
    return this.words[this.outWord + r * this.stride] as number;
  }

  /** The caller's index of record `r`'s line start (its cut 0 is the byte before it). */
  start(r: number): number {
    return this.begin + this.cut(r, 0) + 1;
  }

  /** The caller's index of record `r`'s line feed. */
  lineFeed(r: number): number {
    return this.begin + (this.words[this.outWord + r * this.stride + 1] as number);
  }

  /**
   * The window's bytes as loaded (a view of the instance's memory, overwritten by the next load): a plain line's
   * fields are read there, still in the cache, rather than in the caller's array.
   */
  get window(): Uint8Array {
    return this.bytes;
  }

  /** A plain record's cut `k` (0 … width), as an index of `window`: field k is `(cut(r, k), cut(r, k + 1))`. */
  cut(r: number, k: number): number {
    return this.words[this.outWord + r * this.stride + 2 + k] as number;
  }

  /** Puts a plain record's cuts, as indexes of `window`, in `cuts[0 … width]` (see `SnapshotVisitor.plain`). */
  cutsInto(r: number, cuts: Int32Array): void {
    const words = this.words;
    const at = this.outWord + r * this.stride + 2;
    for (let k = 0; k <= this.width; k++) cuts[k] = words[at + k] as number;
  }
}
