import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AtomicFileWriter } from "../../../bin/io/atomic-file-writer";

const folder = () => mkdtempSync(join(tmpdir(), "hiwari-atomic-"));

describe("AtomicFileWriter", () => {
  it("leaves the target as it was until commit, then replaces it whole; text and bytes in the order written", async () => {
    // Prepare: a target that exists
    const dir = folder();
    const target = join(dir, "refunds.jsonl");
    writeFileSync(target, "before\n");
    const writer = new AtomicFileWriter(target);

    // Act
    writer.write("日割り,");
    writer.writeBytes(new TextEncoder().encode("bytes,"));
    writer.write("end\n");
    const during = readFileSync(target, "utf8");
    await writer.commit();

    // Assess
    expect(during).toBe("before\n");
    expect(readFileSync(target, "utf8")).toBe("日割り,bytes,end\n");
    expect(readdirSync(dir)).toEqual(["refunds.jsonl"]); // no temporary file left
  });

  it("on rewind, forgets everything written, text still pending too, and writes again from the file's start", async () => {
    const dir = folder();
    const target = join(dir, "refunds.jsonl");
    const writer = new AtomicFileWriter(target);
    writer.writeBytes(new TextEncoder().encode("x".repeat(100_000)));
    writer.write("pending text, not yet written");

    writer.rewind();
    writer.write("after\n");
    await writer.commit();

    // No hole where the first 100,000 bytes were: the file is exactly what came after the rewind.
    expect(readFileSync(target)).toEqual(Buffer.from("after\n"));
    expect(readdirSync(dir)).toEqual(["refunds.jsonl"]);
  });

  it("on abort, neither creates the target nor leaves its temporary file (a run that failed wrote nothing)", () => {
    const dir = folder();
    const target = join(dir, "out", "refunds.jsonl"); // in a folder that does not exist yet
    const writer = new AtomicFileWriter(target);
    writer.begin();
    writer.write("half a run");

    writer.abort();
    writer.abort(); // twice: never throws

    expect(existsSync(target)).toBe(false);
    expect(readdirSync(join(dir, "out"))).toEqual([]);
  });

  it("refuses every write after abort, never creating its temporary file again (a late write of a failed run)", async () => {
    // Prepare
    const dir = folder();
    const target = join(dir, "refunds.jsonl");
    const writer = new AtomicFileWriter(target);
    writer.begin();
    writer.abort();

    // Act
    const refused = [() => writer.writeBytes(new TextEncoder().encode("late\n")), () => writer.begin()].map((write) => {
      try {
        write();
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    });
    writer.write("late text\n");
    const finished = await writer.finish().catch((e) => (e as Error).message);

    // Assess
    const message = `${target}: written after its writing was given up (aborted)`;
    expect(refused).toEqual([message, message]);
    expect(finished).toBe(message);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("finds a path that cannot be written at begin, before any work: the file system's error", () => {
    const dir = folder();
    writeFileSync(join(dir, "a-file"), "");
    const writer = new AtomicFileWriter(join(dir, "a-file", "refunds.jsonl"));
    expect(() => writer.begin()).toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^(ENOTDIR|EEXIST)$/) }),
    );
  });
});
