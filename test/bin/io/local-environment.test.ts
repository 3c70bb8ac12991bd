import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { FolderInUseError, LOCAL_TABLES, openLocalEnvironment } from "../../../bin/io/local-environment";
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

  it("has a reader wait for a holder still starting its DynamoDB Local, and refuse an instance not the folder's", {
    timeout: 120_000,
  }, async () => {
    // Arrange: a live holder (this process) whose lock has no endpoint yet; a DynamoDB Local elsewhere
    const elsewhere = await openLocalEnvironment(mkdtempSync(join(tmpdir(), "hiwari-folder-")));
    const { runsTableCreated } = JSON.parse(readFileSync(join(elsewhere.eventsFile, "..", "hiwari.lock"), "utf8"));
    const state = mkdtempSync(join(tmpdir(), "hiwari-folder-"));
    const lock = join(state, "hiwari.lock");
    const holding = (more: object) =>
      writeFileSync(lock, JSON.stringify({ pid: process.pid, since: "2026-12-07T00:00:00.000Z", ...more }));
    holding({});
    try {
      // Act 1: the reader opens, then the holder announces its endpoint
      const opening = openLocalEnvironment(state, { share: true });
      await new Promise((r) => setTimeout(r, 500));
      holding({ endpoint: elsewhere.db.endpoint, runsTableCreated });
      const reader = await opening;
      await reader.stop();
      // ... and a holder of an earlier version, which announced the refunds table's creation time
      const refunds = await elsewhere.db.client.send(new DescribeTableCommand({ TableName: LOCAL_TABLES.refunds }));
      holding({ endpoint: elsewhere.db.endpoint, tablesCreated: refunds.Table?.CreationDateTime?.getTime() });
      const earlier = await openLocalEnvironment(state, { share: true });
      await earlier.stop();
      holding({ endpoint: elsewhere.db.endpoint, tablesCreated: 1 });
      const earlierElsewhere = await openLocalEnvironment(state, { share: true }).catch((e: unknown) => e);

      // Act 2: an endpoint where nothing answers; one whose tables are not the ones the lock names (a pid and a
      // port reused since a restart)
      holding({ endpoint: "http://127.0.0.1:9", runsTableCreated });
      const silent = await openLocalEnvironment(state, { share: true }).catch((e: unknown) => e);
      holding({ endpoint: elsewhere.db.endpoint, runsTableCreated: 1 });
      const another = await openLocalEnvironment(state, { share: true }).catch((e: unknown) => e);

      // Assess
      expect(reader.db.endpoint).toBe(elsewhere.db.endpoint);
      expect(reader.holder).toBe(process.pid);
      expect(earlier.db.endpoint).toBe(elsewhere.db.endpoint);
      for (const [error, endpoint] of [
        [silent, "http://127.0.0.1:9"],
        [another, elsewhere.db.endpoint],
        [earlierElsewhere, elsewhere.db.endpoint],
      ] as const) {
        expect(error).toBeInstanceOf(LocalStateError);
        expect((error as Error).message).toContain(
          `${state} is held by pid ${process.pid} (its lock, since 2026-12-07T00:00:00.000Z), but the DynamoDB Local it names at ${endpoint} is not this folder's (`,
        );
        expect((error as Error).message).toContain(`remove ${lock}`);
      }
      expect((another as Error).message).toContain("(another folder's tables)");
    } finally {
      await elsewhere.stop();
    }
  });

  it("lets one of two processes taking over a dead process's lock together have it; the other is refused", {
    timeout: 120_000,
  }, async () => {
    // Arrange: a dead holder's lock; two processes taking the folder (lockFolder only: no Java), each alive until
    // its stdin ends
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const state = mkdtempSync(join(tmpdir(), "hiwari-folder-"));
    writeFileSync(join(state, "hiwari.lock"), JSON.stringify({ pid: Number(gone.stdout), since: "x" }));
    const take = `
      import { lockFolder } from "./bin/io/folder-lock.ts";
      try { lockFolder(${JSON.stringify(state)}); process.stdout.write("took"); }
      catch (e) { process.stdout.write(e.name); }
      process.stdin.resume();`;

    // Act
    const both = [0, 1].map(() =>
      spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", take], {
        stdio: ["pipe", "pipe", "inherit"],
      }),
    );
    const said = await Promise.all(
      both.map(
        (p) =>
          new Promise<string>((done) => {
            p.stdout.once("data", (d: Buffer) => done(d.toString()));
          }),
      ),
    );
    for (const p of both) p.stdin.end();

    // Assess: one took it, the other was refused
    expect(said.sort()).toEqual(["FolderInUseError", "took"]);
  });
});
