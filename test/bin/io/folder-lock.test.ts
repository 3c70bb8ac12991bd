import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FOLDER_LOCK, FolderInUseError, lockFolder } from "../../../bin/io/folder-lock";

const folder = () => mkdtempSync(join(tmpdir(), "hiwari-lock-"));
const lockIn = (dir: string) => JSON.parse(readFileSync(join(dir, FOLDER_LOCK), "utf8"));

describe("lockFolder", () => {
  it("writes this process's pid, announces the endpoint in the same file, and removes it on release", () => {
    // Prepare
    const dir = folder();

    // Act
    const lock = lockFolder(dir);
    const taken = lockIn(dir);
    lock.announce({ pid: process.pid, since: taken.since, endpoint: "http://127.0.0.1:8000" } as never);
    const announced = lockIn(dir);
    lock.release();

    // Assess
    expect(taken).toMatchObject({ pid: process.pid });
    expect(announced).toMatchObject({ pid: process.pid, endpoint: "http://127.0.0.1:8000" });
    expect(existsSync(join(dir, FOLDER_LOCK))).toBe(false);
  });

  it("refuses a folder a live process holds (this one), naming the folder and the pid", () => {
    const dir = folder();
    const lock = lockFolder(dir);
    try {
      const error = (() => {
        try {
          lockFolder(dir);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(FolderInUseError);
      expect((error as Error).message).toContain(dir);
      expect((error as Error).message).toContain(`pid ${process.pid}`);
    } finally {
      lock.release();
    }
  });

  it("takes over the lock of a process that is gone, and of a lock file torn while written", () => {
    const gone = Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout);
    for (const left of [JSON.stringify({ pid: gone, since: "2026-12-07T00:00:00.000Z" }), '{"pid":']) {
      const dir = folder();
      writeFileSync(join(dir, FOLDER_LOCK), left);
      const lock = lockFolder(dir);
      expect(lockIn(dir).pid).toBe(process.pid);
      lock.release();
    }
  });
});
