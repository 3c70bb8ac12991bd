import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Utf8Batcher } from "../../../bin/io/utf8-batcher";

describe("Utf8Batcher", () => {
  it("hands on exactly the UTF-8 of what was written, and never changes a buffer it handed on (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "grapheme", maxLength: 40 }), { maxLength: 60 }),
        fc.integer({ min: 4, max: 64 }),
        (texts, capacity) => {
          const handed: Buffer[] = [];
          const copies: Buffer[] = [];
          const batcher = new Utf8Batcher((bytes) => {
            handed.push(bytes);
            copies.push(Buffer.from(bytes));
          }, capacity);
          for (const t of texts) batcher.write(t);
          batcher.flush();
          expect(Buffer.concat(handed).toString("utf8")).toBe(texts.join(""));
          expect(handed).toEqual(copies); // what was handed on is as it was when handed
          expect(batcher.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("writes a text longer than its buffer on its own, after what was gathered", () => {
    const handed: string[] = [];
    const batcher = new Utf8Batcher((bytes) => handed.push(bytes.toString()), 8);
    batcher.write("ab");
    batcher.write("日本語のテキスト");
    batcher.write("c");
    batcher.flush();
    expect(handed).toEqual(["ab", "日本語のテキスト", "c"]);
  });
});
