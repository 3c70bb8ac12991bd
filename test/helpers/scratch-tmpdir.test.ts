import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import setup from "./scratch-tmpdir";

describe("the suite's temporary folder", () => {
  it("is one folder of the run's own, for the tests and the processes they spawn", () => {
    expect(basename(tmpdir())).toMatch(/^hiwari-tests-/);
    const child = execFileSync(process.execPath, ["-p", "require('node:os').tmpdir()"], { encoding: "utf8" });
    expect(child.trim()).toBe(tmpdir());
  });

  it("is removed with everything in it when the run ends, and TMPDIR is given back", () => {
    const before = process.env.TMPDIR;
    const teardown = setup();
    const root = tmpdir();
    let left: string;
    try {
      expect(dirname(root)).toBe(before ?? dirname(root));
      left = mkdtempSync(join(root, "left-"));
    } finally {
      teardown();
    }
    expect(existsSync(left)).toBe(false);
    expect(existsSync(root)).toBe(false);
    expect(process.env.TMPDIR).toBe(before);
  });
});
