import { describe, expect, it } from "vitest";
import { clipTo, totalLength, unionOf } from "../../../shared/interval/interval-set";

const iv = (start: number, end: number) => ({ start, end });

describe("unionOf", () => {
  it("merges overlapping, touching, contained and out-of-order intervals into maximal pieces", () => {
    expect(unionOf([iv(50, 60), iv(10, 20), iv(15, 30), iv(30, 40), iv(12, 14), iv(61, 70)])).toEqual([
      iv(10, 40),
      iv(50, 60),
      iv(61, 70),
    ]);
  });

  it("drops empty intervals", () => {
    expect(unionOf([iv(5, 5), iv(1, 2)])).toEqual([iv(1, 2)]);
  });
});

describe("clipTo", () => {
  it("keeps the parts inside [from, to)", () => {
    const pieces = [iv(10, 40), iv(50, 60)];
    expect(clipTo(pieces, 20, 55)).toEqual([iv(20, 40), iv(50, 55)]);
    expect(clipTo(pieces, 40, 50)).toEqual([]);
    expect(clipTo(pieces, 0, Number.POSITIVE_INFINITY)).toEqual(pieces);
    expect(totalLength(clipTo(pieces, 20, 55))).toBe(25);
  });
});
