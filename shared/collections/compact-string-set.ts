import { PermanentError } from "../errors";
/**
 * The default and largest arena of a `CompactStringSet`: 4 GiB less 64 KiB. An entry is found through its arena
 * offset + 1 in a 32-bit unsigned slot, so no offset may reach 2^32 - 1; and one typed array holds at most 2^32
 * bytes on Node 20 anyway. The 64 KiB margin keeps every offset clear of both limits.
 */
export const MAX_ARENA_BYTES = 2 ** 32 - 2 ** 16;

/** The table's largest share of occupied slots: past it, it doubles (linear probing stays short up to about 70%). */
const MAX_LOAD = 0.7;

/** An arena page's size: 32-bit offsets address 4,096 of them (an offset + 1 must fit in a slot). */
export const PAGE_BYTES = 1 << 20;
/** A page's first size: it doubles up to its full size as entries come. */
const FIRST_PAGE_BYTES = 4096;

/**
 * Thrown by `CompactStringSet.add`/`addBytes` when a new entry would take the arena past its cap: the set is left
 * as it was (every entry already added is still found, exactly), it only cannot hold more.
 */
export class CompactStringSetFullError extends PermanentError {
  constructor(
    /** Entries held when the add was refused. */
    readonly entries: number,
    /** Arena bytes they take (4 a length, then their UTF-8). */
    readonly bytes: number,
    /** The arena's cap in bytes. */
    readonly maxBytes: number,
    /** Arena bytes the refused entry needed. */
    readonly needed: number,
  ) {
    const n = (x: number) => x.toLocaleString("en-US");
    super(
      `a CompactStringSet of ${n(entries)} strings (${n(bytes)} of its ${n(maxBytes)} bytes) cannot hold more: the next needs ${n(needed)} bytes`,
    );
    this.name = "CompactStringSetFullError";
  }
}

/**
 * A set of strings kept compactly: UTF-8 bytes in one growing arena, found through an open-addressing table of
 * 32-bit slots. Why not a `Set<string>`: a run remembers every subscription id (to find duplicates) and every
 * refunded subscriber (for goodwill), tens of millions at the scale of a national outage; a V8 string in a Set
 * costs about 60 bytes, an entry here its UTF-8 length plus about 12. Membership is exact: equal hashes are
 * confirmed byte by byte. Strings must be well-formed UTF-16, as decoded text always is (TextEncoder would
 * turn two different lone surrogates into the same bytes).
 *
 * The arena holds each entry as a 4-byte length and its UTF-8 bytes, up to `maxBytes` (default and largest
 * `MAX_ARENA_BYTES`, 4 GiB less 64 KiB): about 107 million UUID ids (36 bytes + 4 = 40 bytes each), 252 million
 * ids of 13 bytes. An add past the cap throws `CompactStringSetFullError` and changes nothing, so the set never
 * wraps an offset and never loses or confuses an entry (it used signed 32-bit slots, which wrapped past 2 GiB).
 * The arena is a list of pages of 1 MiB (`PAGE_BYTES`), an entry's offset its page's number times 1 MiB plus its
 * place in the page: a full page is never copied, so the arena takes what its entries take and one page more
 * (one array that doubled took up to twice that, and three times while it was copied: measured, 9M subscribers
 * credited peaked at 613 MB on one thread with it). A page starts at 4 KiB and doubles up to 1 MiB, so a small
 * set stays small; an entry longer than a page takes a page of its own, and the entries after it a new page, so
 * the pages hold the entries in the order they came. At most 4,096 pages (32-bit offsets): an add that would
 * need one more throws `CompactStringSetFullError` too, which only entries of more than a page can cause.
 * The table of slots and hashes takes 8 bytes a slot, at least 1/MAX_LOAD slots an entry (it doubles past 70% full,
 * as `FingerprintTable` does: measured, 9M subscribers took 828 MB at the peak of a run when it doubled at half full):
 * near the cap, up to about 1.5 GiB more for UUID ids, 3 GiB for ids of a few bytes.
 */
export class CompactStringSet {
  /**
   * Pairs of (arena offset + 1 of an entry, 0 = empty; the entry's hash, to skip most byte comparisons), side by
   * side so that a probe touches one cache line, not two. Unsigned: offsets up to 4 GiB.
   */
  private table: Uint32Array;
  private capacity: number;
  /** The arena's pages; entry at offset `o` is at `pages[o >>> pageBits][o & (pageSize - 1)]`. */
  private readonly pages: Uint8Array[] = [];
  /** The bytes each page holds, entries end to end. */
  private readonly filled: number[] = [];
  /** Entry bytes held in all (4 a length, then the UTF-8), what the cap counts. */
  private used = 0;
  private count = 0;
  private readonly maxBytes: number;
  private readonly pageBits: number;
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly encoder = new TextEncoder();
  private scratch = new Uint8Array(1024);

  /**
   * @param expected entries to make room for at once.
   * @param options.maxBytes the arena's cap (default and at most `MAX_ARENA_BYTES`); a smaller one makes the
   *   boundary testable.
   * @param options.pageBytes the arena's page size, a power of two (default and at most `PAGE_BYTES`), and
   * @param options.maxPages the most pages (default and at most what 32-bit offsets address: 2^32 over the page
   *   size, 4,096 pages of 1 MiB): smaller ones make pages and their limit testable.
   */
  constructor(expected = 1024, options: { maxBytes?: number; pageBytes?: number; maxPages?: number } = {}) {
    const maxBytes = options.maxBytes ?? MAX_ARENA_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || maxBytes > MAX_ARENA_BYTES)
      throw new RangeError(`maxBytes must be a whole number from 0 to ${MAX_ARENA_BYTES} (got ${maxBytes})`);
    const pageSize = options.pageBytes ?? PAGE_BYTES;
    if (!Number.isSafeInteger(pageSize) || pageSize < 8 || pageSize > PAGE_BYTES || (pageSize & (pageSize - 1)) !== 0)
      throw new RangeError(`pageBytes must be a power of two from 8 to ${PAGE_BYTES} (got ${pageSize})`);
    this.maxBytes = maxBytes;
    this.pageSize = pageSize;
    this.pageBits = Math.log2(pageSize);
    const addressable = 2 ** 32 / pageSize;
    const maxPages = options.maxPages ?? addressable;
    if (!Number.isSafeInteger(maxPages) || maxPages < 1 || maxPages > addressable)
      throw new RangeError(`maxPages must be a whole number from 1 to ${addressable} (got ${maxPages})`);
    this.maxPages = maxPages;
    let capacity = 16;
    while (capacity * MAX_LOAD < expected) capacity *= 2;
    this.capacity = capacity;
    this.table = new Uint32Array(capacity * 2);
  }

  get size(): number {
    return this.count;
  }

  /** Adds `value`; true when it was not in the set before. Throws CompactStringSetFullError past the cap. */
  add(value: string): boolean {
    return this.addBytes(this.encode(value));
  }

  /**
   * Adds a value given as its UTF-8 bytes `bytes[start, end)` (copied; a range, so that a caller scanning a buffer
   * makes no view per value); true when it was not in the set before. A new value that would take the arena past
   * its cap throws CompactStringSetFullError before anything changes.
   */
  addBytes(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    const hash = hashOf(bytes, start, end);
    const mask = this.capacity - 1;
    const table = this.table;
    let i = hash & mask;
    for (;;) {
      const slot = table[2 * i] as number;
      if (slot === 0) break;
      if (table[2 * i + 1] === hash && this.equals(slot - 1, bytes, start, end)) return false;
      i = (i + 1) & mask;
    }
    const offset = this.store(bytes, start, end);
    table[2 * i] = offset + 1;
    table[2 * i + 1] = hash;
    this.count++;
    if (this.count > this.capacity * MAX_LOAD) this.grow();
    return true;
  }

  /** True when `value` is in the set. */
  has(value: string): boolean {
    const bytes = this.encode(value);
    const hash = hashOf(bytes, 0, bytes.length);
    const mask = this.capacity - 1;
    const table = this.table;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = table[2 * i] as number;
      if (slot === 0) return false;
      if (table[2 * i + 1] === hash && this.equals(slot - 1, bytes, 0, bytes.length)) return true;
    }
  }

  /** The values, in the order they were added. */
  *[Symbol.iterator](): IterableIterator<string> {
    const decoder = new TextDecoder();
    for (let p = 0; p < this.pages.length; p++) {
      const page = this.pages[p] as Uint8Array;
      const filled = this.filled[p] as number;
      for (let at = 0; at < filled; ) {
        const n = lengthIn(page, at);
        yield decoder.decode(page.subarray(at + 4, at + 4 + n));
        at += 4 + n;
      }
    }
  }

  private encode(value: string): Uint8Array {
    if (value.length * 3 > this.scratch.length) this.scratch = new Uint8Array(value.length * 3);
    const { written } = this.encoder.encodeInto(value, this.scratch);
    return this.scratch.subarray(0, written);
  }

  /**
   * Entry layout: length as 4 bytes little-endian, then the bytes; returns the entry's offset. Refuses (throws)
   * before changing anything.
   */
  private store(bytes: Uint8Array, start: number, end: number): number {
    const n = end - start;
    const size = 4 + n;
    if (this.used + size > this.maxBytes) throw this.full(size);
    const p = this.pageFor(size);
    const page = this.pages[p] as Uint8Array;
    const at = this.filled[p] as number;
    page[at] = n & 0xff;
    page[at + 1] = (n >>> 8) & 0xff;
    page[at + 2] = (n >>> 16) & 0xff;
    page[at + 3] = (n >>> 24) & 0xff;
    for (let k = 0; k < n; k++) page[at + 4 + k] = bytes[start + k] as number;
    this.filled[p] = at + size;
    this.used += size;
    return p * this.pageSize + at;
  }

  /** The page an entry of `size` bytes goes to, with room for it made (a page doubled, or a new one). */
  private pageFor(size: number): number {
    const p = this.pages.length - 1; // new entries go to the last page
    if (p >= 0) {
      const page = this.pages[p] as Uint8Array;
      const need = (this.filled[p] as number) + size;
      if (need <= page.length) return p;
      if (need <= this.pageSize) {
        // Doubled in place of the old one: offsets within a page do not change.
        let length = page.length * 2;
        while (length < need) length *= 2;
        const bigger = new Uint8Array(Math.min(length, this.pageSize));
        bigger.set(page.subarray(0, this.filled[p]));
        this.pages[p] = bigger;
        return p;
      }
    }
    if (this.pages.length >= this.maxPages) throw this.full(size);
    // A longer entry gets a page of its own, exactly its size (at its offset 0): full, so the next entry starts
    // another page.
    const length = size > this.pageSize ? size : Math.min(this.pageSize, Math.max(FIRST_PAGE_BYTES, size));
    this.pages.push(new Uint8Array(length));
    this.filled.push(0);
    return p + 1;
  }

  private full(size: number): CompactStringSetFullError {
    return new CompactStringSetFullError(this.count, this.used, this.maxBytes, size);
  }

  private equals(offset: number, bytes: Uint8Array, start: number, end: number): boolean {
    const n = end - start;
    const page = this.pages[offset >>> this.pageBits] as Uint8Array;
    const at = offset & (this.pageSize - 1);
    if (lengthIn(page, at) !== n) return false;
    const base = at + 4;
    for (let k = 0; k < n; k++) if (page[base + k] !== bytes[start + k]) return false;
    return true;
  }

  private grow(): void {
    const old = this.table;
    const oldCapacity = this.capacity;
    // Allocated before anything changes: a refused allocation leaves the set as it was.
    const table = new Uint32Array(oldCapacity * 4);
    const mask = oldCapacity * 2 - 1;
    for (let j = 0; j < oldCapacity; j++) {
      const slot = old[2 * j] as number;
      if (slot === 0) continue;
      const hash = old[2 * j + 1] as number;
      let i = hash & mask;
      while (table[2 * i] !== 0) i = (i + 1) & mask;
      table[2 * i] = slot;
      table[2 * i + 1] = hash;
    }
    this.table = table;
    this.capacity = oldCapacity * 2;
  }
}

/** The length of the entry at `at` of `page` (4 bytes, little-endian). */
function lengthIn(page: Uint8Array, at: number): number {
  return (
    ((page[at] as number) |
      ((page[at + 1] as number) << 8) |
      ((page[at + 2] as number) << 16) |
      ((page[at + 3] as number) << 24)) >>>
    0
  );
}

/** FNV-1a over the bytes, with a final avalanche so that the low bits (the table index) are well mixed. */
function hashOf(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let k = start; k < end; k++) h = Math.imul(h ^ (bytes[k] as number), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
