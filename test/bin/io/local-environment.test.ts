import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openLocalEnvironment } from "../../../bin/io/local-environment";
import { LocalStateError } from "../../../bin/usage-error";

describe("openLocalEnvironment: one hiwari process a state folder", () => {
  it("refuses a second opening of a folder in use at once, naming it and the pid; free again once stopped", {
    timeout: 120_000,
  }, async () => {
    // Arrange
    const state = mkdtempSync(join(tmpdir(), "hiwari-folder-"));
    const first = await openLocalEnvironment(state);

    // Act
    const error = await openLocalEnvironment(state).catch((e: unknown) => e);
    await first.stop();
    const again = await openLocalEnvironment(state);
    await again.stop();

    // Assess: refused by the folder's lock, before a second DynamoDB Local is started on the same data file (which
    // blocked for 60 s), and the lock gone after each stop
    expect(error).toBeInstanceOf(LocalStateError);
    expect((error as Error).message).toBe(
      `${state} is in use by another hiwari process (pid ${process.pid}, since ${(error as Error).message.match(/since ([^)]+)\)/)?.[1]}): ` +
        `wait for it to finish, or stop it; if no such process is hiwari, remove ${join(state, "hiwari.lock")}`,
    );
    expect(existsSync(join(state, "hiwari.lock"))).toBe(false);
  });

  it("takes over the lock of a process that is gone (killed) and of a lock file torn while written", {
    timeout: 120_000,
  }, async () => {
    // A process that has exited: its pid no longer runs
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    for (const left of [JSON.stringify({ pid: Number(gone.stdout), since: "2026-12-07T00:00:00.000Z" }), '{"pid":']) {
      const state = mkdtempSync(join(tmpdir(), "hiwari-folder-"));
      writeFileSync(join(state, "hiwari.lock"), left);
      const env = await openLocalEnvironment(state);
      await env.stop();
      expect(existsSync(join(state, "hiwari.lock"))).toBe(false);
    }
  });
});
