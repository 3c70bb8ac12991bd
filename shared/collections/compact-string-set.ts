/**
 * A set of strings kept compactly: UTF-8 bytes in one growing arena, found through an open-addressing table of
 * 32-bit slots. Why not a `Set<string>`: a run remembers every subscription id (to find duplicates) and every
 * refunded subscriber (for goodwill), tens of millions at the scale of a national outage; a V8 string in a Set
 * costs about 60 bytes, an entry here its UTF-8 length plus about 12. Membership is exact: equal hashes are
 * confirmed byte by byte. Strings must be well-formed UTF-16, as decoded text always is (TextEncoder would
 * turn two different lone surrogates into the same bytes).
 */
export class CompactStringSet {
  private slots: Int32Array; // arena offset + 1 of each entry, 0 = empty
  private hashes: Int32Array; // the entry's hash, to skip most byte comparisons
  private arena: Uint8Array;
  private used = 0;
  private count = 0;
  private readonly encoder = new TextEncoder();
  private scratch = new Uint8Array(1024);

  constructor(expected = 1024) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.hashes = new Int32Array(capacity);
    this.arena = new Uint8Array(Math.max(4096, expected * 16));
  }

  get size(): number {
    return this.count;
  }

  /** Adds `value`; true when it was not in the set before. */
  add(value: string): boolean {
    return this.addBytes(this.encode(value));
  }

  /** Adds a value given as its UTF-8 bytes (copied); true when it was not in the set before. */
  addBytes(bytes: Uint8Array): boolean {
    const hash = hashOf(bytes);
    const mask = this.slots.length - 1;
    let i = hash & mask;
    for (;;) {
      const slot = this.slots[i] as number;
      if (slot === 0) break;
      if (this.hashes[i] === hash && this.equals(slot - 1, bytes)) return false;
      i = (i + 1) & mask;
    }
    const offset = this.store(bytes);
    this.slots[i] = offset + 1;
    this.hashes[i] = hash;
    this.count++;
    if (this.count * 2 > this.slots.length) this.grow();
    return true;
  }

  /** True when `value` is in the set. */
  has(value: string): boolean {
    const bytes = this.encode(value);
    const hash = hashOf(bytes);
    const mask = this.slots.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i] as number;
      if (slot === 0) return false;
      if (this.hashes[i] === hash && this.equals(slot - 1, bytes)) return true;
    }
  }

  /** The values, in the order they were added. */
  *[Symbol.iterator](): IterableIterator<string> {
    const decoder = new TextDecoder();
    for (let at = 0; at < this.used; ) {
      const n = this.lengthAt(at);
      yield decoder.decode(this.arena.subarray(at + 4, at + 4 + n));
      at += 4 + n;
    }
  }

  private encode(value: string): Uint8Array {
    if (value.length * 3 > this.scratch.length) this.scratch = new Uint8Array(value.length * 3);
    const { written } = this.encoder.encodeInto(value, this.scratch);
    return this.scratch.subarray(0, written);
  }

  /** Entry layout: length as 4 bytes little-endian, then the bytes. */
  private store(bytes: Uint8Array): number {
    const need = this.used + 4 + bytes.length;
    if (need > this.arena.length) {
      let size = this.arena.length * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.arena.subarray(0, this.used));
      this.arena = next;
    }
    const at = this.used;
    const n = bytes.length;
    this.arena[at] = n & 0xff;
    this.arena[at + 1] = (n >>> 8) & 0xff;
    this.arena[at + 2] = (n >>> 16) & 0xff;
    this.arena[at + 3] = (n >>> 24) & 0xff;
    this.arena.set(bytes, at + 4);
    this.used = need;
    return at;
  }

  private lengthAt(at: number): number {
    const a = this.arena;
    return (
      ((a[at] as number) |
        ((a[at + 1] as number) << 8) |
        ((a[at + 2] as number) << 16) |
        ((a[at + 3] as number) << 24)) >>>
      0
    );
  }

  private equals(at: number, bytes: Uint8Array): boolean {
    if (this.lengthAt(at) !== bytes.length) return false;
    const a = this.arena;
    const base = at + 4;
    for (let k = 0; k < bytes.length; k++) if (a[base + k] !== bytes[k]) return false;
    return true;
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldHashes = this.hashes;
    this.slots = new Int32Array(oldSlots.length * 2);
    this.hashes = new Int32Array(oldSlots.length * 2);
    const mask = this.slots.length - 1;
    for (let j = 0; j < oldSlots.length; j++) {
      const slot = oldSlots[j] as number;
      if (slot === 0) continue;
      const hash = oldHashes[j] as number;
      let i = hash & mask;
      while (this.slots[i] !== 0) i = (i + 1) & mask;
      this.slots[i] = slot;
      this.hashes[i] = hash;
    }
  }
}

/** FNV-1a over the bytes, with a final avalanche so that the low bits (the table index) are well mixed. */
function hashOf(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < bytes.length; k++) h = Math.imul(h ^ (bytes[k] as number), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}
