import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deltaOf, type KeyedLine, reconcile, type StoredLine } from "../../../shared/reconcile/reconcile";
import { keyedLine, storedLine } from "../../helpers/factories";

const line = (id: string, amount: bigint, extra: Partial<KeyedLine> = {}) =>
  keyedLine(id, amount, { lineId: id, ...extra });
const stored = (l: KeyedLine, version = 1, status: StoredLine["status"] = "active") => storedLine(l, version, status);

describe("reconcile", () => {
  it("creates new lines, adjusts changed ones, voids the missing and leaves the same alone", () => {
    const before = [stored(line("A", 20n)), stored(line("B", 30n), 2), stored(line("C", 10n))];
    const after = [line("A", 20n), line("B", 13n, { units: 2 }), line("D", 6n)];
    const { changes, unchanged } = reconcile(before, after, "r1");
    expect(unchanged).toBe(1);
    expect(changes.map((c) => [c.kind, c.next.lineId, c.next.version, c.next.amount, deltaOf(c)])).toEqual([
      ["adjusted", "B", 3, 13n, -17n],
      ["calculated", "D", 1, 6n, 6n],
      ["voided", "C", 2, 0n, -10n],
    ]);
    expect(changes.every((c) => c.next.runId === "r1")).toBe(true);
  });

  it("treats a change of any field, not only the amount, as an adjustment", () => {
    const { changes } = reconcile([stored(line("A", 20n))], [line("A", 20n, { periodEnd: "2011-12-31" })], "r1");
    expect(changes.map((c) => c.kind)).toEqual(["adjusted"]);
  });

  it("brings a voided line back as calculated, at the next version, with the whole amount as delta", () => {
    const { changes } = reconcile([stored(line("A", 0n), 2, "voided")], [line("A", 20n)], "r2");
    expect(changes.map((c) => [c.kind, c.next.version, deltaOf(c)])).toEqual([["calculated", 3, 20n]]);
  });

  it("records each change's kind on the line, and counts a resumed run's own stored changes as that kind, writing nothing", () => {
    // Arrange: run r1 adjusts B, calculates D, voids C; it is interrupted after writing them
    const before = [stored(line("A", 20n)), stored(line("B", 30n), 2), stored(line("C", 10n))];
    const after = [line("A", 20n), line("B", 13n), line("D", 6n)];
    const first = reconcile(before, after, "r1");
    const written = [stored(line("A", 20n)), ...first.changes.map((c) => c.next)];

    // Act: r1 again (resumed), and another run
    const resumed = reconcile(written, after, "r1");
    const other = reconcile(written, after, "r2");

    // Assess
    expect(first.changes.map((c) => [c.next.lineId, c.next.change])).toEqual([
      ["B", "adjusted"],
      ["D", "calculated"],
      ["C", "voided"],
    ]);
    expect(resumed).toEqual({ changes: [], unchanged: 1, already: ["adjusted", "calculated", "voided"] });
    expect(other).toEqual({ changes: [], unchanged: 3, already: [] });
  });

  it("does not void a line twice", () => {
    expect(reconcile([stored(line("A", 0n), 2, "voided")], [], "r2").changes).toEqual([]);
  });

  const ids = fc.constantFrom("A", "B", "C", "D", "E", "F");
  const lines = fc.uniqueArray(
    fc.record({ id: ids, amount: fc.bigInt({ min: 0n, max: 10n ** 20n }), units: fc.integer({ min: 1, max: 31 }) }),
    { selector: (x) => x.id, maxLength: 6 },
  );

  it("applying the diff to the first set gives the second, and the deltas sum to the difference of totals (property)", () => {
    fc.assert(
      fc.property(lines, lines, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), (a, b, voided) => {
        const before = a.map((x, i) =>
          stored(line(x.id, voided[i] ? 0n : x.amount, { units: x.units }), 1 + i, voided[i] ? "voided" : "active"),
        );
        const after = b.map((x) => line(x.id, x.amount, { units: x.units }));
        const { changes, unchanged } = reconcile(before, after, "r");
        // Apply
        const state = new Map(before.map((s) => [s.lineId, s]));
        for (const c of changes) {
          expect(c.next.version).toBe((c.previous?.version ?? 0) + 1);
          state.set(c.next.lineId, c.next);
        }
        const standing = [...state.values()].filter((s) => s.status === "active");
        const strip = ({ version: _v, status: _s, runId: _r, change: _c, ...rest }: StoredLine) => rest;
        const sortById = <T extends { lineId: string }>(xs: T[]) =>
          [...xs].sort((x, y) => x.lineId.localeCompare(y.lineId));
        expect(sortById(standing.map(strip))).toEqual(sortById(after));
        const total = (xs: { amount: bigint }[]) => xs.reduce((s, x) => s + x.amount, 0n);
        const deltas = changes.reduce((s, c) => s + deltaOf(c), 0n);
        expect(deltas).toBe(total(after) - total(before.filter((s) => s.status === "active")));
        // A second reconciliation against the new state changes nothing; by the same run (resumed), it counts
        // its own changes as what they were, and the rest as unchanged, as the first did.
        expect(reconcile([...state.values()], after, "r'").changes).toEqual([]);
        const resumed = reconcile([...state.values()], after, "r");
        expect(resumed.changes).toEqual([]);
        expect([...resumed.already].sort()).toEqual(changes.map((c) => c.kind).sort());
        expect(resumed.unchanged).toBe(unchanged);
      }),
    );
  });
});
