import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { holdsInvalidUtf8, INVALID_UTF8, Utf8ChunkDecoder } from "../../../shared/csv/utf8-decoder";

function decodeIn(bytes: Uint8Array, sizes: number[]): string {
  const decoder = new Utf8ChunkDecoder();
  let out = "";
  let at = 0;
  let k = 0;
  while (at < bytes.length) {
    const size = Math.max(1, sizes[k++ % sizes.length] as number);
    out += decoder.decode(bytes.subarray(at, at + size));
    at += size;
  }
  return out + decoder.end();
}

describe("Utf8ChunkDecoder", () => {
  it("decodes valid UTF-8 as TextDecoder does, however it is cut, keeping a byte-order mark (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
        (text, sizes) => {
          const withBom = `\uFEFF${text}`;
          expect(decodeIn(new TextEncoder().encode(withBom), sizes)).toBe(withBom);
        },
      ),
    );
  });

  it("marks bytes that are not UTF-8, and keeps an honest U+FFFD", () => {
    const bytes = Uint8Array.from([0x53, 0xff, 0x31, 0xef, 0xbf, 0xbd, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xe6, 0x97]);
    expect(decodeIn(bytes, [1])).toBe(
      `S${INVALID_UTF8}1\uFFFD${INVALID_UTF8}${INVALID_UTF8}${INVALID_UTF8}${INVALID_UTF8}${INVALID_UTF8}${INVALID_UTF8}`,
    );
    expect(decodeIn(bytes, [64])).toBe(decodeIn(bytes, [1]));
  });

  it("tells a mark from the second half of a character such as U+1F3FF, whose pair ends in the same code unit", () => {
    const emoji = decodeIn(new TextEncoder().encode("S-\u{1F3FF}\u{10FFFF}"), [1]);
    expect(emoji).toBe("S-\uD83C\uDFFF\uDBFF\uDFFF");
    expect(holdsInvalidUtf8(emoji)).toBe(false);
    expect(holdsInvalidUtf8(decodeIn(Uint8Array.from([0xf0, 0x9f, 0x8f, 0xbf, 0xff]), [2]))).toBe(true);
    expect(holdsInvalidUtf8(decodeIn(Uint8Array.from([0xff, 0x41]), [1]))).toBe(true);
  });
});
