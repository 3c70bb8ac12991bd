import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Fingerprint, FingerprintList, FingerprintTable } from "../../../shared/collections/fingerprint-table";

const pair = (f: Fingerprint) => [f.hi, f.lo];

describe("Fingerprint", () => {
  it("gives a string and its UTF-8 bytes the same fingerprint, wherever the bytes sit", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.nat(8), (text, offset) => {
        const bytes = new Uint8Array([...new Uint8Array(offset), ...new TextEncoder().encode(text), 7]);
        const a = pair(new Fingerprint().ofString(text));
        expect(pair(new Fingerprint().ofBytes(bytes, offset, bytes.length - 1))).toEqual(a);
        expect(a).not.toEqual([0, 0]); // 0:0 marks an empty slot
      }),
    );
  });

  it("tells apart ids that differ in one character or only in length", () => {
    const f = new Fingerprint();
    const all = new Set(
      ["C-1", "C-2", "C-10", "C-01", "", "\u0000", "\u0000\u0000"].map((s) => pair(f.ofString(s)).join()),
    );
    expect(all.size).toBe(7);
  });
});

describe("FingerprintTable", () => {
  it("holds exactly the fingerprints added, through growth", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string(), { maxLength: 300 }),
        fc.array(fc.string(), { maxLength: 50 }),
        (added, other) => {
          const table = new FingerprintTable(4);
          const f = new Fingerprint();
          const firsts = added.map((s) => table.add(f.ofString(s)));
          expect(firsts).toEqual(added.map((s, i) => added.indexOf(s) === i));
          expect(table.size).toBe(new Set(added).size);
          for (const s of [...added, ...other]) expect(table.has(f.ofString(s))).toBe(added.includes(s));
        },
      ),
    );
  });
});

describe("FingerprintList", () => {
  it("finds the fingerprints added more than once, and no other", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 60 }).map(String), { maxLength: 200 }),
        fc.nat(100),
        (ids, reserve) => {
          const list = new FingerprintList(2);
          list.reserve(reserve);
          const f = new Fingerprint();
          for (const id of ids) list.add(f.ofString(id));
          expect(list.size).toBe(ids.length);
          const repeated = list.repeated();
          const twice = new Set(ids.filter((id, i) => ids.indexOf(id) !== i));
          expect(repeated.size).toBe(twice.size);
          for (const id of new Set(ids)) expect(repeated.has(f.ofString(id))).toBe(twice.has(id));
        },
      ),
    );
  });

  it("finds the same fingerprints in several sorted lists merged as in one list (the threaded first pass)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 60 }).map(String), { maxLength: 80 }), { maxLength: 5 }),
        (parts) => {
          // Prepare: each part's fingerprints, sorted; every id of every part in one list.
          const f = new Fingerprint();
          const sorted = parts.map((ids) => {
            const list = new FingerprintList(2);
            for (const id of ids) list.add(f.ofString(id));
            return list.sorted();
          });
          const all = parts.flat();

          // Act
          const repeated = FingerprintList.repeatedIn(sorted);

          // Assess
          const twice = new Set(all.filter((id, i) => all.indexOf(id) !== i));
          expect(repeated.size).toBe(twice.size);
          for (const id of new Set(all)) expect(repeated.has(f.ofString(id))).toBe(twice.has(id));
        },
      ),
    );
  });
});
