import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CompactStringSet } from "../../../shared/collections/compact-string-set";

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
      fc.property(
        fc.array(
          fc.oneof(fc.string(), fc.string({ unit: "grapheme", maxLength: 6 }), fc.constantFrom("", "a", "日割り")),
          { maxLength: 300 },
        ),
        (values) => {
          const ours = new CompactStringSet(1);
          const theirs = new Set<string>();
          for (const v of values) {
            expect(ours.add(v)).toBe(!theirs.has(v));
            theirs.add(v);
          }
          expect(ours.size).toBe(theirs.size);
          for (const v of values) expect(ours.has(v)).toBe(true);
        },
      ),
    );
  });
});
