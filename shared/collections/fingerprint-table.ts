/**
 * 64-bit fingerprints of strings (their UTF-8 bytes, as `CompactStringSet` encodes them), and a set of them in
 * two 32-bit words a slot: 8 bytes per entry, however long the string. Two different strings can share a
 * fingerprint, so a fingerprint found twice only makes a suspect: whoever needs certainty confirms the suspects
 * with the strings themselves (the fast engine does, in a pass over the suspects alone).
 *
 * The two halves are independent 32-bit hashes (FNV-1a and a multiply-xorshift), each finished with the
 * MurmurHash3 mixer; hand-written because no library hashes a byte range in place without allocating.
 */
export class Fingerprint {
  hi = 0;
  lo = 0;
  private readonly encoder = new TextEncoder();
  private scratch = new Uint8Array(256);

  /** Fingerprints `bytes[start … end)`; the result is in `hi` and `lo`. */
  ofBytes(bytes: Uint8Array, start: number, end: number): this {
    let a = 0x811c9dc5;
    let b = 0x9e3779b9 ^ (end - start);
    for (let i = start; i < end; i++) {
      const c = bytes[i] as number;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 13;
    }
    this.hi = mix(a);
    this.lo = mix(b ^ 0x27d4eb2f);
    if (this.hi === 0 && this.lo === 0) this.lo = 1; // 0:0 marks an empty slot
    return this;
  }

  /** Fingerprints a string's UTF-8 bytes: equal to `ofBytes` over the same text as bytes. */
  ofString(value: string): this {
    if (value.length * 3 > this.scratch.length) this.scratch = new Uint8Array(value.length * 3);
    const { written } = this.encoder.encodeInto(value, this.scratch);
    return this.ofBytes(this.scratch, 0, written);
  }
}

function mix(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return x ^ (x >>> 16); // int32: stays a small integer in V8 (a uint32 above 2^31 would be a heap number)
}

/** A set of 64-bit fingerprints: open addressing, linear probing, grown at 70% load. */
export class FingerprintTable {
  private words: Int32Array;
  private mask: number;
  private count = 0;

  constructor(expected = 1024) {
    let capacity = 16;
    while (capacity * 0.7 < expected) capacity *= 2;
    this.words = new Int32Array(capacity * 2);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Grows once to hold `expected` entries, instead of doubling on the way there. */
  reserve(expected: number): void {
    let capacity = this.mask + 1;
    while (capacity * 0.7 < expected) capacity *= 2;
    if (capacity > this.mask + 1) this.rehash(capacity);
  }

  /** Adds a fingerprint; true when it was not there before. */
  add(f: Fingerprint): boolean {
    if (this.count + 1 > (this.mask + 1) * 0.7) this.grow();
    return this.put(f.hi, f.lo);
  }

  has(f: Fingerprint): boolean {
    const words = this.words;
    for (let i = f.hi & this.mask; ; i = (i + 1) & this.mask) {
      const hi = words[2 * i] as number;
      const lo = words[2 * i + 1] as number;
      if (hi === f.hi && lo === f.lo) return true;
      if (hi === 0 && lo === 0) return false;
    }
  }

  private put(hi: number, lo: number): boolean {
    const words = this.words;
    for (let i = hi & this.mask; ; i = (i + 1) & this.mask) {
      const h = words[2 * i] as number;
      const l = words[2 * i + 1] as number;
      if (h === hi && l === lo) return false;
      if (h === 0 && l === 0) {
        words[2 * i] = hi;
        words[2 * i + 1] = lo;
        this.count++;
        return true;
      }
    }
  }

  private grow(): void {
    this.rehash((this.mask + 1) * 2);
  }

  private rehash(capacity: number): void {
    const old = this.words;
    this.words = new Int32Array(capacity * 2);
    this.mask = capacity - 1;
    this.count = 0;
    for (let i = 0; i < old.length; i += 2) {
      const hi = old[i] as number;
      const lo = old[i + 1] as number;
      if (hi !== 0 || lo !== 0) this.put(hi, lo);
    }
  }
}

/**
 * Fingerprints gathered in one flat array (8 bytes each), to find those that occur more than once by sorting
 * them: the runtime's own sort of 64-bit integers is several times faster than inserting each into a hash
 * table, whose every insert is a cache miss at this size (measured: 70 ms against 300 ms for a million).
 */
export class FingerprintList {
  private words: Int32Array;
  private count = 0;

  constructor(expected = 1 << 16) {
    this.words = new Int32Array(Math.max(16, expected) * 2);
  }

  get size(): number {
    return this.count;
  }

  /** Makes room for `expected` fingerprints in all, once, instead of doubling on the way there. */
  reserve(expected: number): void {
    if (expected * 2 > this.words.length) this.resize(Math.ceil(expected));
  }

  add(f: Fingerprint): void {
    if (this.count * 2 + 2 > this.words.length) this.resize(this.count * 2);
    this.words[this.count * 2] = f.lo;
    this.words[this.count * 2 + 1] = f.hi;
    this.count++;
  }

  /** The fingerprints found more than once. Sorts the list in place (its order is lost). */
  repeated(): FingerprintTable {
    const found = new FingerprintTable(16);
    new BigUint64Array(this.words.buffer, 0, this.count).sort();
    const words = this.words;
    const f = new Fingerprint();
    for (let i = 1; i < this.count; i++) {
      if (words[2 * i] === words[2 * i - 2] && words[2 * i + 1] === words[2 * i - 1]) {
        f.lo = words[2 * i] as number;
        f.hi = words[2 * i + 1] as number;
        found.add(f);
      }
    }
    return found;
  }

  /** The fingerprints sorted, as 64-bit integers (low word first): a view of the list, which it then leaves. */
  sorted(): BigUint64Array {
    return new BigUint64Array(this.words.buffer, 0, this.count).sort();
  }

  /**
   * The fingerprints found more than once among sorted lists (`sorted()` of several lists, in any number and
   * order): merged as they stand, without sorting them again.
   */
  static repeatedIn(lists: readonly BigUint64Array[]): FingerprintTable {
    const found = new FingerprintTable(16);
    const f = new Fingerprint();
    // Compared as two unsigned 32-bit words (high first): no BigInt made per value.
    const words = lists.map((l) => new Uint32Array(l.buffer, l.byteOffset, l.length * 2));
    const at = lists.map(() => 0);
    let lastHi = -1;
    let lastLo = -1;
    let noted = false;
    for (;;) {
      let min = -1;
      let hi = 0;
      let lo = 0;
      for (let k = 0; k < words.length; k++) {
        const w = words[k] as Uint32Array;
        const i = 2 * (at[k] as number);
        if (i >= w.length) continue;
        const h = w[i + 1] as number;
        const l = w[i] as number;
        if (min === -1 || h < hi || (h === hi && l < lo)) {
          min = k;
          hi = h;
          lo = l;
        }
      }
      if (min === -1) return found;
      at[min] = (at[min] as number) + 1;
      if (hi === lastHi && lo === lastLo) {
        if (!noted) {
          f.lo = lo | 0;
          f.hi = hi | 0;
          found.add(f);
          noted = true;
        }
      } else {
        lastHi = hi;
        lastLo = lo;
        noted = false;
      }
    }
  }

  private resize(entries: number): void {
    const bigger = new Int32Array(entries * 2);
    bigger.set(this.words.subarray(0, this.count * 2));
    this.words = bigger;
  }
}
