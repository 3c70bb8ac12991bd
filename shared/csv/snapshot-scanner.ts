import { type CsvRecord, CsvRecordReader, MAX_RECORD_BYTES } from "./csv-record-reader";
import {
  checkLineIndexSize,
  DEFAULT_LINE_INDEX_SIZE,
  EMPTY,
  type LineIndexSize,
  OTHER,
  PLAIN,
  PlainLineIndex,
} from "./plain-line-index";
import { Utf8ChunkDecoder } from "./utf8-decoder";

const LF = 10;

/** What a byte means to the plain-line scan: part of a field, a comma, a line end, or anything else. */
const ORDINARY = 0;
const SEPARATOR = 1;
const LINE_FEED = 2;
const RETURN = 3;
const SPECIAL = 4;
const BYTE_CLASS = new Uint8Array(256).map((_, b) => {
  if (b === 44) return SEPARATOR;
  if (b === LF) return LINE_FEED;
  if (b === 13) return RETURN;
  // Control bytes, non-ASCII (UTF-8 to decode), the quote (CSV quoting) and the backslash (JSON escaping).
  return b < 0x20 || b > 0x7e || b === 34 || b === 92 ? SPECIAL : ORDINARY;
});

/** The fewest lines a scan records after a record over several lines (see `SnapshotScanner.indexed`). */
const MIN_BUDGET = 16;

const ascii = new TextDecoder();

/** The text of printable-ASCII bytes (a plain record's field). */
export function asciiText(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > 64) return ascii.decode(bytes.subarray(start, end));
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i] as number);
  return s;
}

/** The record the CSV reader would make of a plain line (its fields as text; see `SnapshotVisitor.plain`). */
export function plainRecord(bytes: Uint8Array, cuts: Int32Array, width: number, line: number): CsvRecord {
  const fields: string[] = [];
  for (let k = 0; k < width; k++) fields.push(asciiText(bytes, (cuts[k] as number) + 1, cuts[k + 1] as number));
  return { line, fields };
}

/** What a scan of a snapshot hands on: the header, then every record, the plain ones as bytes. */
export interface SnapshotVisitor {
  /** The first record; returns the number of fields every record must have (or throws: the snapshot is unusable). */
  header(record: CsvRecord): number;
  /**
   * A plain record: one physical line of printable ASCII (0x20–0x7E) without a quote or a backslash, split by
   * exactly `width - 1` commas, and no longer than MAX_RECORD_BYTES (a longer one is the reader's to refuse).
   * Field k is `bytes[cuts[k] + 1 … cuts[k + 1])`. Both are reused (`bytes` may be the scan's window, not the
   * chunk pushed): read them now.
   */
  plain(bytes: Uint8Array, cuts: Int32Array, line: number): void;
  /** Any other record (quoted, CRs, non-ASCII or bad UTF-8, the wrong width), as the CSV reader reads it. */
  record(record: CsvRecord): void;
}

/** What a scan of a snapshot's rows hands on, after its header (a slice of it, for one batch). */
export type RowVisitor = Pick<SnapshotVisitor, "plain" | "record">;

/**
 * Reads a snapshot's bytes as CsvRecordReader would, and faster: a line that holds nothing the CSV grammar treats
 * specially is split at its commas in place, without decoding it or making a string; any other line, and every
 * line until the record it starts is complete, goes through CsvRecordReader itself, with the same physical line
 * numbers. So the records visited are exactly the reader's (a property test holds the two together), and the
 * common line costs one pass over its bytes, made 16 bytes at a time in WebAssembly (plain-line-index.ts) where it
 * can be. A line that grows past MAX_RECORD_BYTES without ending is handed to the reader as it comes, so the
 * scanner never holds much more than that limit and a chunk, however long the line.
 */
export class SnapshotScanner {
  private line = 1;
  private width = 0;
  private cuts = new Int32Array(16);
  /** The reader of a record that is not plain, from its first line until it completes; undefined between them. */
  private reader: CsvRecordReader | undefined;
  private decoder: Utf8ChunkDecoder | undefined;
  /** The start of a line that the previous chunk did not finish. */
  private carry: Uint8Array = new Uint8Array(0);
  private carried = 0;
  private atFileStart = true;
  /** How many lines the next scan may record: fewer after a record that went on over several lines (see `indexed`). */
  private budget: number;

  /**
   * `after`: start in the middle of a file, at the first byte of a line that begins a record (none still open
   * before it), the header already read elsewhere: every record must have `width` fields, and the first line is
   * numbered `line`. Used to scan a byte range of a snapshot on its own (see shared/engine/fast/fast-engine.ts).
   */
  constructor(
    private readonly visitor: SnapshotVisitor,
    after?: { width: number; line: number },
    /**
     * How the plain lines are found: by the WebAssembly scan in windows of this size (the default), or, with false,
     * byte by byte in JavaScript (`lineByLine`, the reference the tests hold the scan to; also the fallback where
     * WebAssembly is not available).
     */
    private readonly indexSize: LineIndexSize | false = DEFAULT_LINE_INDEX_SIZE,
  ) {
    if (indexSize !== false) checkLineIndexSize(indexSize);
    this.budget = indexSize === false ? 0 : indexSize.records;
    if (after) {
      this.width = after.width;
      this.line = after.line;
      this.cuts = new Int32Array(Math.max(16, after.width + 1));
      this.atFileStart = false;
    }
  }

  /** The number of the line the scanner has reached (the next one to start). */
  get lineNumber(): number {
    return this.line;
  }

  /** True once the header has been read. */
  get hasHeader(): boolean {
    return this.width > 0;
  }

  /** Feeds the next chunk of the file. */
  push(bytes: Uint8Array): void {
    // One array type on the hot path (a Node Buffer is a subclass): the scan stays monomorphic.
    const chunk =
      bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    let from = 0;
    if (this.carried > 0) {
      const nl = chunk.indexOf(LF);
      if (nl === -1) {
        this.keep(chunk, 0);
        this.spillLongLine();
        return;
      }
      this.keep(chunk.subarray(0, nl + 1), 0);
      const line = this.carry.subarray(0, this.carried);
      this.carried = 0;
      this.lines(line, 0);
      from = nl + 1;
    }
    from = this.lines(chunk, from);
    if (from < chunk.length) {
      this.keep(chunk, from);
      this.spillLongLine();
    }
  }

  /** Ends the file: its last line, if it had no line break, and a record still open. */
  end(): void {
    const last = this.carry.subarray(0, this.carried);
    this.carried = 0;
    if (this.reader === undefined) {
      if (last.length === 0) return;
      if (this.width > 0 && this.split(last, 0, last.length)) {
        this.visitor.plain(last, this.cuts, this.line);
        return;
      }
      this.reader = new CsvRecordReader({ firstLine: this.line, dropBom: this.atFileStart });
      this.decoder = new Utf8ChunkDecoder();
    }
    const reader = this.reader;
    const decoder = this.decoder as Utf8ChunkDecoder;
    this.reader = undefined;
    this.decoder = undefined;
    // The last bytes may end inside a UTF-8 sequence: the decoder's end marks them.
    this.visit([...reader.push(decoder.decode(last)), ...reader.push(decoder.end()), ...reader.end()]);
  }

  /**
   * Hands the unfinished line to the reader once it is longer than a record may be: it cannot be plain, and the
   * reader, which counts it against the limit and stops keeping its text, reads the rest of it as it comes.
   */
  private spillLongLine(): void {
    if (this.carried <= MAX_RECORD_BYTES) return;
    const part = this.carry.subarray(0, this.carried);
    this.carried = 0;
    this.feed(part); // no line feed in it: the line number moves on when its end comes
  }

  /** Appends bytes to the unfinished line (the buffer doubles, so a long line is copied a bounded number of times). */
  private keep(bytes: Uint8Array, from: number): void {
    const need = this.carried + bytes.length - from;
    if (need > this.carry.length) {
      const bigger = new Uint8Array(Math.max(need, this.carry.length * 2, 4096));
      bigger.set(this.carry.subarray(0, this.carried));
      this.carry = bigger;
    }
    this.carry.set(bytes.subarray(from), this.carried);
    this.carried = need;
  }

  /**
   * Visits the complete lines of `bytes` from `from` on; returns where the first incomplete one starts (the
   * length when there is none). Lines are found by the WebAssembly scan, a window of the bytes copied in at a time,
   * and one by one (`lineByLine`) where it cannot go: before the header, inside a record over several lines, at a
   * line longer than a window, and wherever WebAssembly is not available.
   */
  private lines(bytes: Uint8Array, from: number): number {
    const size = this.indexSize;
    if (size === false) return this.lineByLine(bytes, from, Number.POSITIVE_INFINITY);
    const n = bytes.length;
    let start = from;
    let index: PlainLineIndex | undefined;
    /** Whether the index holds a window of these bytes (loaded in this call: the chunk's array is reused after). */
    let loaded = false;
    try {
      while (start < n) {
        if (this.reader !== undefined || this.width === 0) {
          const next = this.lineByLine(bytes, start, 1);
          if (next === start) return start;
          start = next;
          continue;
        }
        index ??= PlainLineIndex.acquire(this.width, size);
        if (index === undefined) return this.lineByLine(bytes, start, Number.POSITIVE_INFINITY);
        if (!loaded || start >= index.loadedEnd) {
          index.load(bytes, start, Math.min(n, start + size.window));
          loaded = true;
        }
        const count = index.scan(start, this.budget);
        if (count > 0) {
          start = this.indexed(index, bytes, count);
          continue;
        }
        // No complete line from `start` to the window's end.
        if (index.loadedEnd === n) return start; // no line feed yet
        if (index.loadedBegin < start) {
          loaded = false; // the window began before this line: load one that begins with it
          continue;
        }
        const next = this.lineByLine(bytes, start, 1); // a line longer than a window, judged byte by byte
        if (next === start) return start;
        start = next;
      }
      return start;
    } finally {
      index?.release();
    }
  }

  /**
   * Visits the `count` lines the scan recorded, as `lineByLine` would; returns where the next line starts. A line
   * for the reader that starts a record going on over several lines ends the visit there: the scan took the lines
   * after it for records of their own, so they are read again, through the reader. The next scans then record
   * fewer lines (doubling back up), and start from the window already loaded, so that a file of many such records
   * is neither scanned nor copied over and over.
   */
  private indexed(index: PlainLineIndex, bytes: Uint8Array, count: number): number {
    const cuts = this.cuts;
    const window = index.window;
    for (let r = 0; r < count; r++) {
      const kind = index.kind(r);
      if (kind === PLAIN) {
        index.cutsInto(r, cuts);
        this.visitor.plain(window, cuts, this.line++);
      } else if (kind === EMPTY) {
        this.line++; // an empty line: skipped, counted
      } else {
        const lineFeed = index.lineFeed(r);
        this.feed(bytes.subarray(index.start(r), lineFeed + 1));
        this.line++;
        if (this.reader !== undefined) {
          this.budget = Math.min(MIN_BUDGET, index.size.records);
          return lineFeed + 1;
        }
      }
    }
    if (count === this.budget) this.budget = Math.min(this.budget * 2, index.size.records);
    return index.next;
  }

  /**
   * Visits at most `most` complete lines of `bytes` from `from` on, one byte at a time, and returns where it
   * stopped (where the first incomplete line starts, or the length). Each byte is looked at once: its class says
   * whether the line stays plain. The reference for the WebAssembly scan, and its fallback.
   */
  private lineByLine(bytes: Uint8Array, from: number, most: number): number {
    const n = bytes.length;
    let start = from;
    for (let visited = 0; start < n && visited < most; visited++) {
      if (this.reader !== undefined || this.width === 0) {
        const nl = bytes.indexOf(LF, start);
        if (nl === -1) return start;
        this.feed(bytes.subarray(start, nl + 1));
        this.line++;
        start = nl + 1;
        continue;
      }
      // Read here, not before the loop: the header, read in this same call, may have made the array longer.
      const cuts = this.cuts;
      const last = this.width - 1;
      let k = 0;
      let plain = true;
      let end = -1;
      let j = start;
      cuts[0] = start - 1;
      for (; j < n; j++) {
        const c = BYTE_CLASS[bytes[j] as number] as number;
        if (c === ORDINARY) continue;
        if (c === SEPARATOR) {
          if (k < last) cuts[++k] = j;
          else plain = false;
          continue;
        }
        if (c === LINE_FEED) {
          end = j;
          break;
        }
        if (c === RETURN && j + 1 < n && bytes[j + 1] === LF) {
          end = j++;
          break;
        }
        plain = false;
      }
      if (end === -1) return start; // no line feed yet
      if (end === start) {
        this.line++; // an empty line: skipped, counted
      } else if (plain && k === last && end - start <= MAX_RECORD_BYTES) {
        cuts[this.width] = end;
        this.visitor.plain(bytes, cuts, this.line++);
      } else {
        this.feed(bytes.subarray(start, j + 1));
        this.line++;
      }
      start = j + 1;
    }
    return start;
  }

  /** Puts the comma positions of a plain last line (no line feed) in `cuts`; false when it is not plain. */
  private split(bytes: Uint8Array, start: number, end: number): boolean {
    if (end - start > MAX_RECORD_BYTES) return false;
    const cuts = this.cuts;
    const last = this.width - 1;
    let k = 0;
    cuts[0] = start - 1;
    for (let i = start; i < end; i++) {
      const c = BYTE_CLASS[bytes[i] as number] as number;
      if (c === SEPARATOR && k < last) cuts[++k] = i;
      else if (c !== ORDINARY) return false;
    }
    if (k !== last) return false;
    cuts[this.width] = end;
    return true;
  }

  /** Hands a line (with its line feed, if it has one) to the CSV reader, starting one for a new record. */
  private feed(bytes: Uint8Array): void {
    if (this.reader === undefined) {
      this.reader = new CsvRecordReader({ firstLine: this.line, dropBom: this.atFileStart });
      this.decoder = new Utf8ChunkDecoder();
    }
    this.atFileStart = false;
    const records = this.reader.push((this.decoder as Utf8ChunkDecoder).decode(bytes));
    if (this.reader.betweenRecords) {
      this.reader = undefined;
      this.decoder = undefined;
    }
    this.visit(records);
  }

  private visit(records: CsvRecord[]): void {
    for (const record of records) {
      if (this.width > 0) {
        this.visitor.record(record);
        continue;
      }
      this.width = this.visitor.header(record);
      if (this.cuts.length < this.width + 1) this.cuts = new Int32Array(this.width + 1);
    }
  }
}

/**
 * Scans a snapshot given as chunks of bytes; `afterChunk` runs after each with the bytes read so far (progress, backpressure). Returns false
 * when the file holds no record at all (not even a header).
 */
export async function scanSnapshot(
  chunks: AsyncIterable<Uint8Array>,
  visitor: SnapshotVisitor,
  afterChunk?: (bytesRead: number) => Promise<void> | void,
): Promise<boolean> {
  const scanner = new SnapshotScanner(visitor);
  let bytesRead = 0;
  for await (const chunk of chunks) {
    bytesRead += chunk.length;
    scanner.push(chunk);
    await afterChunk?.(bytesRead);
  }
  scanner.end();
  await afterChunk?.(bytesRead);
  return scanner.hasHeader;
}

/**
 * A quick first look for the ids of a snapshot's records, line by line, for finding *candidate* duplicates: on
 * every physical line after the first, the bytes from comma `column` to the next comma or the line's end. It may
 * hand on bytes that are no record's id (a line inside a quoted field, a line of the wrong width); it never
 * misses a record's id: where a line holds a byte the CSV grammar or UTF-8 decoding treats specially (a quote,
 * a control byte, a lone CR, a non-ASCII byte) before the end of its id, the record's id could differ from the
 * bytes, so it stops and returns false, and the caller reads the snapshot exactly (scanSnapshot) instead. It
 * does the same at a line longer than MAX_RECORD_BYTES that it would have to hold across chunks, rather than hold
 * it (such a record has no id to count); one that long inside a chunk is read like any other line, its bytes at
 * the column handed on (one candidate more: never a miss).
 */
export async function scanIdsLoosely(
  chunks: AsyncIterable<Uint8Array>,
  column: number,
  each: (bytes: Uint8Array, start: number, end: number) => void,
  afterChunk?: (bytesRead: number) => void,
  /**
   * The header's width, when known: the plain lines (see `SnapshotVisitor.plain`) are then found by the
   * WebAssembly scan, their id being their field `column`, and only the others are looked at byte by byte.
   * `indexSize` as `SnapshotScanner` takes it.
   */
  plain?: { width: number; indexSize?: LineIndexSize | false },
): Promise<boolean> {
  const size = plain?.indexSize ?? DEFAULT_LINE_INDEX_SIZE;
  if (size !== false) checkLineIndexSize(size);
  const index =
    plain !== undefined && size !== false && plain.width > column
      ? PlainLineIndex.acquire(plain.width, size)
      : undefined;
  try {
    return await idsLoosely(chunks, column, each, afterChunk, index);
  } finally {
    index?.release();
  }
}

async function idsLoosely(
  chunks: AsyncIterable<Uint8Array>,
  column: number,
  each: (bytes: Uint8Array, start: number, end: number) => void,
  afterChunk: ((bytesRead: number) => void) | undefined,
  index: PlainLineIndex | undefined,
): Promise<boolean> {
  let line = 0;
  /** One line `bytes[start … end)` without its line end; false when it is not safe to read loosely. */
  const visit = (bytes: Uint8Array, start: number, end: number): boolean => {
    if (++line === 1 || end === start) return true; // the header's line, an empty line
    // One look at each byte up to the id's end (never past the line's end): commas counted, others checked.
    let from = start;
    let k = 0;
    for (let i = start; i < end; i++) {
      const c = BYTE_CLASS[bytes[i] as number] as number;
      if (c === SEPARATOR) {
        if (k === column) {
          each(bytes, from, i);
          return true;
        }
        k++;
        from = i + 1;
      } else if (c !== ORDINARY) {
        return false;
      }
    }
    if (k === column) each(bytes, from, end); // the id is the line's last field
    return true; // or the line has too few fields: no id
  };
  /**
   * The lines of `chunk[from … end)` (complete: `end` is just after a line feed) through the WebAssembly scan: a
   * plain line's id is its field `column`; any other line is visited as above (its bytes are not plain, or its
   * commas too few or many), and so is a line longer than a window. False when one is not safe to read loosely.
   */
  const indexed = (index: PlainLineIndex, chunk: Uint8Array, from: number, end: number): boolean => {
    let start = from;
    while (start < end) {
      index.load(chunk, start, Math.min(end, start + index.size.window));
      let at = start;
      for (;;) {
        const count = index.scan(at, Number.POSITIVE_INFINITY);
        for (let r = 0; r < count; r++) {
          const kind = index.kind(r);
          if (kind === PLAIN) {
            each(index.window, index.cut(r, column) + 1, index.cut(r, column + 1));
          } else if (kind === OTHER) {
            const s = index.start(r);
            if (!visit(chunk, s, lineEnd(chunk, s, index.lineFeed(r)))) return false;
          } // EMPTY: no id
        }
        if (count === 0) break;
        at = index.next;
      }
      if (at === start) {
        const nl = chunk.indexOf(LF, start); // a line longer than a window
        if (!visit(chunk, start, lineEnd(chunk, start, nl))) return false;
        at = nl + 1;
      }
      start = at;
    }
    return true;
  };
  let carry = new Uint8Array(0);
  let carried = 0;
  let bytesRead = 0;
  for await (const chunk of chunks) {
    bytesRead += chunk.length;
    let from = 0;
    let nl = chunk.indexOf(LF);
    if (carried > 0 || nl === -1) {
      const piece = chunk.subarray(0, nl === -1 ? chunk.length : nl + 1);
      if (carried + piece.length > MAX_RECORD_BYTES) return false;
      if (carried + piece.length > carry.length) {
        const bigger = new Uint8Array(Math.max(carried + piece.length, carry.length * 2, 4096));
        bigger.set(carry.subarray(0, carried));
        carry = bigger;
      }
      carry.set(piece, carried);
      carried += piece.length;
      if (nl === -1) {
        afterChunk?.(bytesRead);
        continue;
      }
      if (!visit(carry, 0, lineEnd(carry, 0, carried - 1))) return false;
      carried = 0;
      from = nl + 1;
      nl = chunk.indexOf(LF, from);
    }
    if (index !== undefined && nl !== -1) {
      if (line === 0) {
        visit(chunk, from, lineEnd(chunk, from, nl)); // the header's line, skipped
        from = nl + 1;
      }
      const end = chunk.lastIndexOf(LF) + 1;
      if (from < end && !indexed(index, chunk, from, end)) return false;
      if (from < end) from = end;
      nl = -1;
    }
    for (; nl !== -1; nl = chunk.indexOf(LF, from)) {
      if (!visit(chunk, from, lineEnd(chunk, from, nl))) return false;
      from = nl + 1;
    }
    if (from < chunk.length) {
      if (chunk.length - from > carry.length) carry = new Uint8Array(Math.max(chunk.length - from, 4096));
      carry.set(chunk.subarray(from));
      carried = chunk.length - from;
    }
    afterChunk?.(bytesRead);
  }
  // The last line without a line feed: its final CR is data, not a line end (CsvRecordReader's rule).
  return carried === 0 || visit(carry, 0, carried);
}

/** Where a line that ends with a line feed at `nl` ends: before a CR just before it. */
function lineEnd(bytes: Uint8Array, start: number, nl: number): number {
  return nl > start && bytes[nl - 1] === 13 ? nl - 1 : nl;
}
