import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CompactStringSet,
  CompactStringSetFullError,
  MAX_ARENA_BYTES,
  PAGE_BYTES,
} from "../../../shared/collections/compact-string-set";

/** Arena bytes an entry takes: a 4-byte length, then its UTF-8. */
const entryBytes = (value: string) => 4 + new TextEncoder().encode(value).length;

/** Arena page sizes: tiny ones, so that entries fill pages, cross to new ones and outgrow them; and the real one. */
const pageBytes = fc.constantFrom(8, 16, 32, 256, PAGE_BYTES);

/** Any strings: arbitrary UTF-16 (well-formed), graphemes beyond ASCII, and a few fixed ones. */
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.constantFrom("", "a", "日割り", "😀"),
);

describe("CompactStringSet", () => {
  it("adds each string once and finds it again, across growth", () => {
    const set = new CompactStringSet(4);
    for (let i = 0; i < 10_000; i++) expect(set.add(`C-${i}`)).toBe(true);
    for (let i = 0; i < 10_000; i++) expect(set.add(`C-${i}`)).toBe(false);
    expect(set.size).toBe(10_000);
    expect(set.has("C-42")).toBe(true);
    expect(set.has("C-10000")).toBe(false);
  });

  it("behaves as a Set<string> for any strings, non-ASCII and empty included (property)", () => {
    fc.assert(
      fc.property(fc.array(anyString, { maxLength: 300 }), pageBytes, (values, page) => {
        const ours = new CompactStringSet(1, { pageBytes: page });
        const theirs = new Set<string>();
        for (const v of values) {
          expect(ours.add(v)).toBe(!theirs.has(v));
          theirs.add(v);
        }
        expect(ours.size).toBe(theirs.size);
        for (const v of values) expect(ours.has(v)).toBe(true);
        expect([...ours]).toEqual([...theirs]);
      }),
    );
  });

  it("takes a value as a range of a buffer exactly as the same value added whole (property)", () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(anyString, anyString, anyString), { maxLength: 100 }),
        pageBytes,
        (triples, page) => {
          const ours = new CompactStringSet(1, { pageBytes: page });
          const theirs = new Set<string>();
          for (const [before, value, after] of triples) {
            const head = encoder.encode(before).length;
            const bytes = encoder.encode(before + value + after);
            expect(ours.addBytes(bytes, head, head + encoder.encode(value).length)).toBe(!theirs.has(value));
            theirs.add(value);
          }
          for (const v of theirs) expect(ours.has(v)).toBe(true);
          expect([...ours]).toEqual([...theirs]);
        },
      ),
    );
  });

  describe("at its byte cap", () => {
    it("holds entries up to the cap exactly, all found", () => {
      // Prepare: a cap that 100 ids fill to the last byte, across the arena's growth.
      const ids = Array.from({ length: 100 }, (_, i) => `C-${i}`);
      const set = new CompactStringSet(1, { maxBytes: ids.reduce((sum, id) => sum + entryBytes(id), 0) });

      // Act
      const added = ids.map((id) => set.add(id));

      // Assess
      expect(added.every((a) => a)).toBe(true);
      expect(set.size).toBe(ids.length);
      for (const id of ids) expect(set.has(id)).toBe(true);
      expect(set.has("C-100")).toBe(false);
    });

    it("refuses the entry past the cap with CompactStringSetFullError, saying how many it holds", () => {
      // Prepare: room for "C-1" and "C-2" (7 bytes each), not one byte more.
      const set = new CompactStringSet(1, { maxBytes: 14 });
      set.add("C-1");
      set.add("C-2");

      // Act
      const error = (() => {
        try {
          set.add("C");
        } catch (e) {
          return e;
        }
      })();

      // Assess
      expect(error).toBeInstanceOf(CompactStringSetFullError);
      expect(error).toMatchObject({
        name: "CompactStringSetFullError",
        entries: 2,
        bytes: 14,
        maxBytes: 14,
        needed: 5,
      });
      expect((error as Error).message).toBe(
        "a CompactStringSet of 2 strings (14 of its 14 bytes) cannot hold more: the next needs 5 bytes",
      );
    });

    it("loses and confuses nothing after refusing an entry: earlier ones found, the refused one not", () => {
      // Prepare: a set filled to its cap.
      const held = Array.from({ length: 50 }, (_, i) => `sub-${i}`);
      const set = new CompactStringSet(1, { maxBytes: held.reduce((sum, id) => sum + entryBytes(id), 0) });
      for (const id of held) set.add(id);

      const refused = ["sub-50", "x", "日割り", ""];

      // Act
      for (const id of refused) expect(() => set.add(id)).toThrow(CompactStringSetFullError);

      // Assess: membership exact, re-adding a held entry is a plain "already there", the order kept.
      for (const id of held) expect(set.has(id)).toBe(true);
      for (const id of refused) expect(set.has(id)).toBe(false);
      for (const id of held) expect(set.add(id)).toBe(false);
      expect(set.size).toBe(held.length);
      expect([...set]).toEqual(held);
    });

    it("keeps membership exact against a Set<string> for any strings and any cap, before and after it is full (property)", () => {
      fc.assert(
        fc.property(
          fc.array(anyString, { maxLength: 200 }),
          fc.integer({ min: 0, max: 600 }),
          pageBytes,
          (values, maxBytes, page) => {
            // Prepare
            const ours = new CompactStringSet(1, { maxBytes, pageBytes: page });
            const theirs = new Set<string>();
            const refused = new Set<string>();
            let used = 0;

            // Act: add everything; a value is refused exactly when it is new and would pass the cap.
            for (const v of values) {
              const isNew = !theirs.has(v);
              if (isNew && used + entryBytes(v) > maxBytes) {
                expect(() => ours.add(v)).toThrow(CompactStringSetFullError);
                refused.add(v);
                continue;
              }
              expect(ours.add(v)).toBe(isNew);
              if (isNew) used += entryBytes(v);
              theirs.add(v);
            }

            // Assess
            expect(ours.size).toBe(theirs.size);
            for (const v of theirs) expect(ours.has(v)).toBe(true);
            for (const v of refused) expect(ours.has(v)).toBe(false);
            expect([...ours]).toEqual([...theirs]);
          },
        ),
      );
    });

    it("refuses the entry that needs a page past the last, and changes nothing", () => {
      // Prepare: two pages of 16 bytes; "abcdefghijkl" (4 + 12 bytes) fills one.
      const set = new CompactStringSet(1, { pageBytes: 16, maxPages: 2 });
      expect(set.add("abcdefghijkl")).toBe(true);
      expect(set.add("a")).toBe(true); // the second page
      expect(set.add("bcd")).toBe(true); // 5 + 7 bytes of 16: still the second page

      // Act, Assess: 4 + 4 bytes do not fit in what is left, and there is no third page.
      expect(() => set.add("wxyz")).toThrow(CompactStringSetFullError);
      expect(set.add("")).toBe(true); // 4 bytes still fit: the room left is not lost
      expect([...set]).toEqual(["abcdefghijkl", "a", "bcd", ""]);
      expect(set.has("wxyz")).toBe(false);
    });

    it("gives an entry longer than a page a page of its own, and keeps the order entries came in", () => {
      const set = new CompactStringSet(1, { pageBytes: 8 });
      const values = ["ab", "x".repeat(40), "c", "d", "y".repeat(9), "e", "x".repeat(40)];
      expect(values.map((v) => set.add(v))).toEqual([true, true, true, true, true, true, false]);
      expect([...set]).toEqual(values.slice(0, 6));
      for (const v of values) expect(set.has(v)).toBe(true);
    });

    it("defaults to the largest arena 32-bit unsigned offsets address, and accepts no cap beyond it", () => {
      expect(MAX_ARENA_BYTES).toBe(2 ** 32 - 2 ** 16);
      expect(() => new CompactStringSet(1, { maxBytes: MAX_ARENA_BYTES })).not.toThrow();
      expect(() => new CompactStringSet(1, { maxBytes: MAX_ARENA_BYTES + 1 })).toThrow(RangeError);
      expect(() => new CompactStringSet(1, { maxBytes: -1 })).toThrow(RangeError);
      expect(() => new CompactStringSet(1, { maxBytes: 1.5 })).toThrow(RangeError);
      expect(() => new CompactStringSet(1, { pageBytes: 24 })).toThrow(RangeError); // not a power of two
      expect(() => new CompactStringSet(1, { pageBytes: PAGE_BYTES * 2 })).toThrow(RangeError);
      expect(() => new CompactStringSet(1, { maxPages: 4097 })).toThrow(RangeError); // 2^32 / PAGE_BYTES is 4,096
      expect(() => new CompactStringSet(1, { pageBytes: 8, maxPages: 2 ** 29 })).not.toThrow();
    });
  });
});
