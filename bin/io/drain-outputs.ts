import {
  appendFileSync,
  closeSync,
  existsSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from "node:fs";
import { basename } from "node:path";

/** A file the stream's handler appends to, one JSON line per item, and the identity of a line (an event's eventId). */
export interface DrainOutput {
  path: string;
  idOf(line: string): string;
}

/** What the stream checkpoint keeps of the outputs, each by its file name; committed with each page's position. */
export interface OutputState {
  /** Its length in bytes as the last committed page left it. */
  committed: Record<string, number>;
  /** How many lines it held then, where known (to tell what a repair could not restore). */
  lines?: Record<string, number>;
  /** Its last bytes (up to 64, base64) before the committed length: a file replaced or rewritten no longer ends so. */
  tails?: Record<string, string>;
  /**
   * A repair under way (`damaged`: the outputs found shorter than committed, or replaced): each output's length
   * before the stream was read again into it. A process that dies during the repair leaves this; the next drain cuts back to it and repairs
   * again, so that the repair's own appends are never taken for committed ones.
   */
  repairing?: { from: Record<string, number>; damaged: string[] };
}

/** An output found shorter than what was published, and what reading the stream again gave back. */
export interface Repair {
  file: string;
  /** Lines appended again from the stream. */
  restored: number;
  /** Lines published before that the stream no longer held (it keeps 24 hours); undefined when not known. */
  missing: number | undefined;
}

const CHUNK = 1 << 20;

export const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : 0);

/** Each line of `file` between bytes `from` and `to` (at line ends), read a chunk at a time: any size of file. */
function* linesOf(file: string, from: number, to: number): Generator<string> {
  if (to <= from || !existsSync(file)) return;
  const fd = openSync(file, "r");
  try {
    const chunk = Buffer.alloc(CHUNK);
    let rest = Buffer.alloc(0);
    for (let at = from; at < to; ) {
      const read = readSync(fd, chunk, 0, Math.min(CHUNK, to - at), at);
      if (read === 0) break;
      at += read;
      const bytes = Buffer.concat([rest, chunk.subarray(0, read)]);
      let start = 0;
      for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
        if (end > start) yield bytes.toString("utf8", start, end);
        start = end + 1;
      }
      rest = Buffer.from(bytes.subarray(start));
    }
    if (rest.length > 0) yield rest.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** How many line ends `file` has between bytes `from` and `to`. */
function countLines(file: string, from: number, to: number): number {
  if (to <= from || !existsSync(file)) return 0;
  const fd = openSync(file, "r");
  try {
    const chunk = Buffer.alloc(CHUNK);
    let count = 0;
    for (let at = from; at < to; ) {
      const read = readSync(fd, chunk, 0, Math.min(CHUNK, to - at), at);
      if (read === 0) break;
      for (let i = chunk.indexOf(0x0a); i !== -1 && i < read; i = chunk.indexOf(0x0a, i + 1)) count++;
      at += read;
    }
    return count;
  } finally {
    closeSync(fd);
  }
}

/** The length of `file` up to the end of its last whole line (a line cut short by a kill ends without "\n"). */
function wholeLinesLength(file: string): number {
  const size = sizeOf(file);
  if (size === 0) return 0;
  const fd = openSync(file, "r");
  try {
    const chunk = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - chunk.length);
      readSync(fd, chunk, 0, end - start, start);
      const at = chunk.subarray(0, end - start).lastIndexOf(0x0a);
      if (at !== -1) return start + at + 1;
      end = start;
    }
    return 0;
  } finally {
    closeSync(fd);
  }
}

/** Cuts `file` back to `length` bytes (never lengthens it: a shorter file is left as it is). */
function cutTo(file: string, length: number): void {
  if (sizeOf(file) > length) truncateSync(file, length);
}

/** Cuts `file` back to its last whole line; returns its length then. */
function cutTorn(file: string): number {
  const whole = wholeLinesLength(file);
  cutTo(file, whole);
  return whole;
}

/** The last bytes (up to 64) of `file` before byte `end`, as base64. */
function tailOf(file: string, end: number): string {
  if (end === 0 || sizeOf(file) < end) return "";
  const fd = openSync(file, "r");
  try {
    const bytes = Buffer.alloc(Math.min(64, end));
    return bytes.subarray(0, readSync(fd, bytes, 0, bytes.length, end - bytes.length)).toString("base64");
  } finally {
    closeSync(fd);
  }
}

/** The identity of a line, or the line itself when it is not one the output's idOf reads. */
function identity(output: DrainOutput, line: string): string {
  try {
    return output.idOf(line);
  } catch {
    return line;
  }
}

/**
 * The files the stream's handler appends to, held to what committed pages wrote: whatever moment the process dies
 * (or the disk fills), each holds only whole lines, each item once, after the next drain has settled them. Their
 * lengths and line counts live in the stream checkpoint (`state`), committed with each page's position; the
 * caller writes the checkpoint after `settle`, `commit`, `rollback` and `finishRepair`.
 */
export class DrainOutputs {
  constructor(
    private readonly outputs: readonly DrainOutput[],
    private readonly state: OutputState,
  ) {}

  /** Whether an output lost published lines and the stream is to be read again into it (`finishRepair` after). */
  get repairDue(): boolean {
    return this.state.repairing !== undefined;
  }

  /**
   * Before reading: bytes past an output's committed length are a page appended but not committed (the process
   * died in between, or inside the append, or the disk filled): cut, to be appended again by the page's drain. An
   * output shorter than committed (cut short, replaced, removed) lost published lines: cut to its last whole line,
   * and a repair marked; so is one with lines and no committed length (its checkpoint moved away), so that the
   * stream read again does not append what it holds twice. A repair that did not finish is taken up again from where it started. Each output's
   * length is committed before anything is appended to it (a first drain; a checkpoint from before lengths were
   * kept), so that what a first page appends and does not commit is cut like any other.
   */
  settle(): void {
    const { state } = this;
    if (state.repairing) {
      const { from } = state.repairing;
      for (const { path } of this.outputs) {
        const name = basename(path);
        const at = from[name] ?? 0;
        // Shorter than where the repair started (cut again since): the repair starts from its whole lines.
        from[name] = sizeOf(path) < at ? cutTorn(path) : at;
        cutTo(path, from[name]);
      }
    } else {
      const damaged: string[] = [];
      for (const { path } of this.outputs) {
        const name = basename(path);
        const committed = state.committed[name];
        if (committed === undefined || !this.intact(path)) {
          // Shorter than committed: it lost published lines. Lines but no committed length (the checkpoint moved
          // away, or from before lengths were kept): the stream is read into it the same way, so that what it
          // holds already is not appended twice.
          if (cutTorn(path) > 0 || committed !== undefined) damaged.push(name);
        } else {
          cutTo(path, committed);
          // A checkpoint from before line counts were kept: counted once, from a file that is whole.
          if (state.lines?.[name] === undefined)
            state.lines = { ...state.lines, [name]: countLines(path, 0, committed) };
        }
      }
      if (damaged.length > 0) state.repairing = { from: this.sizes(), damaged };
    }
    for (const { path } of this.outputs) {
      const name = basename(path);
      if (state.committed[name] !== undefined) continue;
      this.commitLength(path);
      state.lines = { ...state.lines, [name]: countLines(path, 0, sizeOf(path)) };
    }
  }

  /**
   * After a page: each output's length and line count as the page left them. An output no longer holding what
   * was committed of it (cut short, removed or replaced while the stream was drained) is returned instead, cut to
   * its whole lines, and a repair marked: the caller reads the stream again up to this page's position.
   */
  commit(): DrainOutput[] {
    const shrunk = this.outputs.filter(({ path }) => !this.intact(path));
    if (shrunk.length > 0) {
      // The page is committed with its position all the same; the repair reads the stream again up to it.
      for (const { path } of shrunk) cutTorn(path);
      this.state.repairing = { from: this.sizes(), damaged: shrunk.map(({ path }) => basename(path)) };
      return shrunk;
    }
    for (const { path } of this.outputs) {
      const name = basename(path);
      const from = this.state.committed[name] ?? 0;
      const known = this.state.lines?.[name];
      if (known !== undefined)
        this.state.lines = { ...this.state.lines, [name]: known + countLines(path, from, sizeOf(path)) };
      this.commitLength(path);
    }
    return [];
  }

  /** A page that failed part-way: what it appended is cut, to be appended again, once, when it is delivered again. */
  rollback(): void {
    for (const { path } of this.outputs) cutTo(path, this.state.committed[basename(path)] ?? 0);
  }

  /**
   * After the stream was read again (from its oldest record up to the committed positions) into the outputs: of
   * what that appended, only the lines whose identity the output does not hold already are kept, after the lines
   * that survived, each once. The committed lengths and line counts become the repaired files'. Lines published
   * before that the stream no longer holds are counted as missing: the line count committed before, less the
   * lines the output holds now (unknown when the count was not kept).
   */
  finishRepair(): Repair[] {
    const { from: started, damaged } = this.state.repairing ?? { from: {}, damaged: [] };
    const repairs: Repair[] = [];
    for (const output of this.outputs) {
      const { path } = output;
      const name = basename(path);
      const at = started[name] ?? 0;
      const held = new Set<string>();
      for (const line of linesOf(path, 0, at)) held.add(identity(output, line));
      // The lines to keep go to a file beside it, then back after the survivors: no output is held in memory.
      const kept = `${path}.repair`;
      const fd = openSync(kept, "w");
      let restored = 0;
      try {
        for (const line of linesOf(path, at, sizeOf(path))) {
          const id = identity(output, line);
          if (held.has(id)) continue; // it survived, or came again already
          held.add(id);
          writeSync(fd, `${line}\n`);
          restored++;
        }
      } finally {
        closeSync(fd);
      }
      cutTo(path, at);
      appendFileFrom(path, kept);
      rmSync(kept, { force: true });
      const before = this.state.lines?.[name];
      if (damaged.includes(name))
        repairs.push({
          file: path,
          restored,
          missing: before === undefined ? undefined : Math.max(0, before - held.size),
        });
      this.commitLength(path);
      this.state.lines = { ...this.state.lines, [name]: held.size };
    }
    this.state.repairing = undefined;
    return repairs;
  }

  /** Whether `path` still holds what was committed of it: as long, and ending there as it did. */
  private intact(path: string): boolean {
    const name = basename(path);
    const committed = this.state.committed[name] ?? 0;
    const tail = this.state.tails?.[name];
    return sizeOf(path) >= committed && (tail === undefined || tailOf(path, committed) === tail);
  }

  /** Commits `path` at its present length: the length, and the bytes it ends with. */
  private commitLength(path: string): void {
    const name = basename(path);
    this.state.committed[name] = sizeOf(path);
    this.state.tails = { ...this.state.tails, [name]: tailOf(path, sizeOf(path)) };
  }

  private sizes(): Record<string, number> {
    return Object.fromEntries(this.outputs.map(({ path }) => [basename(path), sizeOf(path)]));
  }
}

/** Appends the bytes of `from` to `file`, a chunk at a time. */
function appendFileFrom(file: string, from: string): void {
  const fd = openSync(from, "r");
  try {
    const chunk = Buffer.alloc(CHUNK);
    for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk))
      appendFileSync(file, chunk.subarray(0, read));
  } finally {
    closeSync(fd);
  }
}

/** What a repair did, in a sentence for the terminal. */
export function describeRepair({ file, restored, missing }: Repair): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const lost =
    missing === undefined
      ? "how many lines it held before is not known (a checkpoint from an earlier hiwari)"
      : missing === 0
        ? "nothing published is missing from it now"
        : `${n(missing)} lines published before could not be restored: the stream no longer holds them ` +
          "(DynamoDB Local keeps 24 hours); a consumer that read them before has them, the file lacks them for good";
  return `${file} was cut short or removed: ${n(restored)} lines restored from the table's stream and appended; ${lost}`;
}
