/**
 * An RFC 4180 record reader that knows on which physical line each record starts.
 *
 * Why not csv-parse here: the contract reports bad rows by the physical line where the record starts, and
 * csv-parse 7 counts a CRLF inside a quoted field as two lines (every later line number drifts by one), and
 * after a malformed quote it can lose the valid records that follow. This reader is small, streams in chunks,
 * never stops at a bad record, and is checked against csv-parse on well-formed input (see its tests).
 *
 * Grammar: records end at LF or CRLF (a lone CR is an ordinary character); fields are separated by commas;
 * a field that starts with `"` is quoted and may hold commas, line breaks and `""`; a UTF-8 byte-order mark at
 * the start is dropped; empty lines are skipped (they still count). A quote inside an unquoted field, text after
 * a closing quote, and a quote never closed make the record malformed: it is returned with `error` set.
 *
 * Size: a record of more than MAX_RECORD_BYTES is bad too. The reader still follows its quotes and line breaks to
 * its end (so the records after it start where they always did), but stops keeping its text, so memory stays
 * bounded whatever the file holds: such a record comes back with the fields it had completed before the limit.
 */

/**
 * The most bytes one record may hold (1 MiB): from its first byte to the line end that closes it (not counted),
 * line breaks inside quoted fields included. A subscription row is a few hundred bytes; past this, a record is a
 * broken file (a quote never closed, a field of garbage), not data.
 */
export const MAX_RECORD_BYTES = 1 << 20;

/** The reason given for a record longer than MAX_RECORD_BYTES. */
export const RECORD_TOO_LONG = `the record is longer than ${MAX_RECORD_BYTES.toLocaleString("en-US")} bytes, the most one row may hold`;

export interface CsvRecord {
  /** 1-based physical line where the record starts. */
  line: number;
  fields: string[];
  /**
   * Set when the record breaks the quoting rules or is too long: which field (0-based; -1 for the record as a
   * whole) and why. `unclosed`: a quote never closed swallowed the rest of the file into this record. `tooLong`:
   * the record holds more than MAX_RECORD_BYTES; `fields` are those completed before it reached the limit.
   */
  error?: { fieldIndex: number; reason: string; unclosed?: boolean; tooLong?: boolean };
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

enum State {
  FieldStart = 0,
  Unquoted = 1,
  Quoted = 2,
  /** A quote seen inside a quoted field: either the first of `""` or the closing quote. */
  QuotedQuote = 3,
  /** The rest of a field already found malformed: skipped up to the next comma or line end. */
  Skipping = 4,
}

/** Where the text a reader is fed starts: a file's start (the default), or a record boundary inside it. */
export interface CsvReaderStart {
  /** The physical line the text starts on (a slice of a snapshot starts on its first record's line). */
  firstLine: number;
  /** Drop a leading byte-order mark: only at the start of a file, where it is not data. */
  dropBom: boolean;
}

export class CsvRecordReader {
  private line: number;
  private recordLine: number;
  private fields: string[] = [];
  private field = "";
  private state = State.FieldStart;
  private content = false;
  private error: CsvRecord["error"];
  private carry = "";
  private started: boolean;
  /** Index of the field being read (fields.length, but still counted once fields are no longer kept). */
  private fieldIndex = 0;
  /** Bytes of the open record so far (as UTF-8; a byte marked as not UTF-8 counts one). */
  private size = 0;
  /** The open record passed MAX_RECORD_BYTES: its text is no longer kept. */
  private tooLong = false;

  constructor(start: CsvReaderStart = { firstLine: 1, dropBom: true }) {
    this.line = start.firstLine;
    this.recordLine = start.firstLine;
    this.started = !start.dropBom;
  }

  /** True when no record is open: the text fed so far ended where a record ends (or held none). */
  get betweenRecords(): boolean {
    return !this.content && this.carry === "" && this.state === State.FieldStart;
  }

  /** Feeds the next piece of text; returns the records completed by it. */
  push(chunk: string): CsvRecord[] {
    let text = this.carry + chunk;
    this.carry = "";
    if (!this.started) {
      if (text.length === 0) return [];
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.started = true;
    }
    // A CR at the end of a chunk may be the first half of a CRLF: decide when the next chunk comes.
    if (text.charCodeAt(text.length - 1) === CR) {
      this.carry = "\r";
      text = text.slice(0, -1);
    }
    const out: CsvRecord[] = [];
    this.scan(text, out);
    return out;
  }

  /** Ends the input; returns the last record, if any. */
  end(): CsvRecord[] {
    const out: CsvRecord[] = [];
    if (this.carry) {
      const rest = this.carry;
      this.carry = "";
      this.scan(rest, out, true);
    }
    if (this.state === State.Quoted) {
      const reason = `the quote that opens it is never closed: the file ends inside field ${this.fieldIndex + 1}`;
      // A quote never closed is what made such a record too long: name the cause, not its effect.
      if (this.error?.tooLong) this.error = { fieldIndex: this.fieldIndex, reason, tooLong: true };
      else this.fail(reason);
      if (this.error) this.error.unclosed = true;
    }
    if (this.content) this.finishRecord(out);
    return out;
  }

  private fail(reason: string): void {
    if (!this.error) this.error = { fieldIndex: this.fieldIndex, reason };
  }

  /** Counts `bytes` more of the open record; past the limit, marks it too long and drops the field being read. */
  private grow(bytes: number): void {
    this.size += bytes;
    if (this.size > MAX_RECORD_BYTES && !this.tooLong) {
      this.tooLong = true;
      this.field = "";
      // The length fault replaces a quoting fault found earlier: it is why the fields stop short.
      this.error = { fieldIndex: -1, reason: RECORD_TOO_LONG, tooLong: true };
    }
  }

  /** Ends the field being read: kept unless the record is already too long. */
  private endField(): void {
    if (!this.tooLong) this.fields.push(this.field);
    this.field = "";
    this.fieldIndex++;
  }

  private begin(): void {
    if (!this.content) {
      this.content = true;
      this.recordLine = this.line;
    }
  }

  private finishRecord(out: CsvRecord[]): void {
    this.endField();
    const record: CsvRecord = { line: this.recordLine, fields: this.fields };
    if (this.error) record.error = this.error;
    out.push(record);
    this.fields = [];
    this.fieldIndex = 0;
    this.size = 0;
    this.tooLong = false;
    this.error = undefined;
    this.content = false;
    this.state = State.FieldStart;
  }

  private scan(text: string, out: CsvRecord[], atEnd = false): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      switch (this.state) {
        case State.Quoted: {
          // Copy up to the next quote in one slice, counting the line breaks it holds.
          let j = text.indexOf('"', i);
          if (j === -1) j = n;
          this.grow(j - i + extraBytes(text, i, j) + (j < n ? 1 : 0)); // the quote at j: closing, or half of ""
          const piece = text.slice(i, j);
          if (!this.tooLong) this.field += piece;
          for (let k = piece.indexOf("\n"); k !== -1; k = piece.indexOf("\n", k + 1)) this.line++;
          if (j < n) this.state = State.QuotedQuote;
          i = j + 1;
          continue;
        }
        case State.QuotedQuote:
          if (c === QUOTE) {
            this.grow(1);
            if (!this.tooLong) this.field += '"';
            this.state = State.Quoted;
            i++;
            continue;
          }
          break; // comma, line end or other: handled below as after a field
        case State.Unquoted:
        case State.FieldStart: {
          if (c === QUOTE && this.state === State.FieldStart) {
            this.begin();
            this.grow(1);
            this.state = State.Quoted;
            i++;
            continue;
          }
          // Copy the plain run up to the next special character in one slice, counting its bytes on the way.
          let j = i;
          let bytes = 0;
          while (j < n) {
            const d = text.charCodeAt(j);
            if (
              d === COMMA ||
              d === LF ||
              d === QUOTE ||
              (d === CR && (j + 1 < n ? text.charCodeAt(j + 1) === LF : !atEnd))
            )
              break;
            bytes += d < 0x80 ? 1 : 1 + extraBytesOf(d, text.charCodeAt(j - 1));
            j++;
          }
          if (j > i) {
            this.begin();
            this.grow(bytes);
            if (!this.tooLong) this.field += text.slice(i, j);
            this.state = State.Unquoted;
            i = j;
            continue;
          }
          if (c === QUOTE) {
            this.begin();
            this.grow(1);
            this.fail(`field ${this.fieldIndex + 1} has a quote inside an unquoted value`);
            if (!this.tooLong) this.field += '"';
            i++;
            continue;
          }
          break;
        }
        case State.Skipping:
          break;
      }
      // Here c is a comma, a line end, or (after a closing quote or in a skipped field) any other character.
      if (c === COMMA) {
        this.begin();
        this.grow(1);
        this.endField();
        this.state = State.FieldStart;
        i++;
      } else if (c === LF || (c === CR && i + 1 < n && text.charCodeAt(i + 1) === LF)) {
        if (this.content) this.finishRecord(out);
        this.state = State.FieldStart;
        this.line++;
        i += c === CR ? 2 : 1;
      } else {
        if (this.state === State.QuotedQuote) {
          this.fail(`field ${this.fieldIndex + 1} has text after its closing quote`);
          this.state = State.Skipping;
        }
        this.grow(c < 0x80 ? 1 : 1 + extraBytesOf(c, text.charCodeAt(i - 1)));
        i++;
      }
    }
  }
}

/**
 * How many bytes more than one a UTF-16 code unit of decoded text took in the file: 1 or 2 for a character of
 * the Basic Multilingual Plane, 1 for each half of a pair (4 bytes), 0 for a lone U+DFFF, the mark of one byte
 * that is not UTF-8 (see utf8-decoder.ts). `c` is at least 0x80; `before` is the code unit before it (NaN if none).
 */
function extraBytesOf(c: number, before: number): number {
  if (c < 0x800) return 1;
  if (c >= 0xd800 && c <= 0xdbff) return 1;
  if (c >= 0xdc00 && c <= 0xdfff) return before >= 0xd800 && before <= 0xdbff ? 1 : 0;
  return 2;
}

/** The bytes more than one per code unit that `text[from … to)` took in the file (see extraBytesOf). */
function extraBytes(text: string, from: number, to: number): number {
  let extra = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c >= 0x80) extra += extraBytesOf(c, text.charCodeAt(k - 1));
  }
  return extra;
}
