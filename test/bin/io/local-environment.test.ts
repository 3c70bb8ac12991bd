import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FolderInUseError, openLocalEnvironment } from "../../../bin/io/local-environment";
import { LocalStateError } from "../../../bin/usage-error";
import { processesNaming } from "../../helpers/processes";

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

  it("lets a reader (runs, report) work through the holder's DynamoDB Local; stopping the reader stops nothing else", {
    timeout: 120_000,
  }, async () => {
    // Arrange
    const state = mkdtempSync(join(tmpdir(), "hiwari-folder-"));
    const holder = await openLocalEnvironment(state);
    try {
      // Act
      const reader = await openLocalEnvironment(state, { share: true });
      const seen = await reader.store.listRuns("any");
      await reader.stop();

      // Assess: the holder's instance, announced in the lock; one DynamoDB Local; the holder still answers; a
      // second opening that would write is still refused
      expect(JSON.parse(readFileSync(join(state, "hiwari.lock"), "utf8"))).toMatchObject({
        pid: process.pid,
        endpoint: holder.db.endpoint,
      });
      expect(reader.db.endpoint).toBe(holder.db.endpoint);
      expect(seen).toEqual([]);
      expect(processesNaming(join(state, "dynamodb"))).toHaveLength(1);
      expect(await holder.store.listRuns("any")).toEqual([]);
      await expect(openLocalEnvironment(state)).rejects.toThrow(FolderInUseError);
    } finally {
      await holder.stop();
    }
  });

  it("has a reader wait for a holder still starting its DynamoDB Local, and name one whose instance does not answer", {
    timeout: 120_000,
  }, async () => {
    // Arrange: a live holder (this process) whose lock has no endpoint yet; a DynamoDB Local elsewhere
    const elsewhere = await openLocalEnvironment(mkdtempSync(join(tmpdir(), "hiwari-folder-")));
    const state = mkdtempSync(join(tmpdir(), "hiwari-folder-"));
    const lock = join(state, "hiwari.lock");
    writeFileSync(lock, JSON.stringify({ pid: process.pid, since: "2026-12-07T00:00:00.000Z" }));
    try {
      // Act 1: the reader opens, then the holder announces its endpoint
      const opening = openLocalEnvironment(state, { share: true });
      await new Promise((r) => setTimeout(r, 500));
      writeFileSync(lock, JSON.stringify({ pid: process.pid, since: "x", endpoint: elsewhere.db.endpoint }));
      const reader = await opening;
      await reader.stop();

      // Act 2: an endpoint where nothing answers
      writeFileSync(lock, JSON.stringify({ pid: process.pid, since: "x", endpoint: "http://127.0.0.1:9" }));
      const error = await openLocalEnvironment(state, { share: true }).catch((e: unknown) => e);

      // Assess
      expect(reader.db.endpoint).toBe(elsewhere.db.endpoint);
      expect(error).toBeInstanceOf(LocalStateError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^${state} is in use by another hiwari process \\(pid ${process.pid}\\), whose DynamoDB Local at http://127.0.0.1:9 did not answer`,
        ),
      );
    } finally {
      await elsewhere.stop();
    }
  });
});
