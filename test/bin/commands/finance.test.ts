import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { standingRun } from "../../../bin/commands/finance";
import { run as runCommand } from "../../../bin/commands/run";
import type { RunRecord } from "../../../shared/store/refund-store";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { quiet } from "../../helpers/stdout";

const run = (runId: string, status: RunRecord["status"], startedAt: string, extra: Partial<RunRecord> = {}) =>
  ({
    incidentId: "inc",
    runId,
    requestedBy: "finance",
    reason: "test",
    dryRun: false,
    status,
    startedAt,
    completedAt: status === "completed" ? startedAt.replace("T00", "T01") : undefined,
    snapshotName: "subs.csv",
    counts: { rows: 10, computed: 6, skipped: 3, rejected: 1, calculated: 6, adjusted: 0, voided: 0, unchanged: 0 },
    ...extra,
  }) as RunRecord;

describe("standingRun (what hiwari report says the standing lines come from)", () => {
  it("names the last completed run that wrote, with where its rows went and its rejected rows", () => {
    const runs = [
      run("run-a", "completed", "2011-12-23T00:00:00Z"),
      run("run-b", "completed", "2011-12-24T00:00:00Z"),
      run("run-c", "completed", "2011-12-25T00:00:00Z", { dryRun: true }),
    ];
    expect(standingRun(runs, "/s")).toBe(
      "as of run run-b (2011-12-24T01:00:00Z, subs.csv): rows 10 = computed 6 + skipped 3 + rejected 1; " +
        "rejected rows in /s/runs/run-b/rejects.jsonl\n",
    );
  });

  it("says so when a later run failed or is still running: it may have changed lines", () => {
    const runs = [
      run("run-a", "completed", "2011-12-23T00:00:00Z"),
      run("run-b", "failed", "2011-12-24T00:00:00Z"),
      run("run-c", "requested", "2011-12-25T00:00:00Z"),
    ];
    expect(standingRun(runs, "/s").split("\n")).toEqual([
      expect.stringMatching(/^as of run run-a /),
      "note: run run-b (failed, started 2011-12-24T00:00:00Z) came after it and may have changed lines; run the incident again to settle them",
      "",
    ]);
  });
});

describe("hiwari runs and report on an incident the state folder does not have", () => {
  /** The command as users run it: its own process, its exit status, what it printed. */
  const hiwari = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "bin/hiwari.ts", ...args], {
      encoding: "utf8",
      // (bin/hiwari.js leaves out the SDK's Node 22 warning; through tsx, warnings are off)
      env: {
        ...process.env,
        POWERTOOLS_LOG_LEVEL: "ERROR",
        POWERTOOLS_METRICS_DISABLED: "true",
        NODE_NO_WARNINGS: "1",
      },
    });

  it("refuses a mistyped id (exit 2) listing the incidents there are; says whose a file path is; takes the old --incident with a notice", {
    timeout: 240_000,
  }, async () => {
    // Arrange: one incident run in a folder of its own; another folder with nothing
    const dir = mkdtempSync(join(tmpdir(), "hiwari-known-"));
    const state = join(dir, "state");
    const incident = join(dir, "incident.json");
    writeFileSync(incident, JSON.stringify(incidentDoc({ incidentId: "fin-known" })));
    writeFileSync(join(dir, "subs.csv"), csvOf([row()]));
    const first = { incident, subscriptions: join(dir, "subs.csv"), state, reason: "r", by: "t", batchSize: "10" };
    expect(await quiet(() => runCommand(first))).toBe(0);
    const empty = join(dir, "empty");

    // Act
    const typo = hiwari("report", "--incident-id", "FIN-KNOWN", "--state", state, "--out", join(dir, "r.csv"));
    const path = hiwari("runs", "--incident-id", incident, "--state", state);
    const nothing = hiwari("runs", "--incident-id", "fin-known", "--state", empty);
    const old = hiwari("runs", "--incident", "fin-known", "--state", state, "--json");

    // Assess
    expect([typo.status, typo.stderr]).toEqual([
      2,
      `hiwari: no incident FIN-KNOWN in ${state}; its incidents: fin-known\n`,
    ]);
    expect(existsSync(join(dir, "r.csv"))).toBe(false);
    expect([path.status, path.stderr]).toEqual([
      2,
      `hiwari: no incident ${incident} in ${state} (${incident} is a file: --incident-id takes the incident's id, here fin-known); its incidents: fin-known\n`,
    ]);
    expect([nothing.status, nothing.stderr]).toEqual([
      2,
      `hiwari: no incident fin-known in ${empty}; it has no runs yet (hiwari run starts one)\n`,
    ]);
    expect(old.status).toBe(0);
    expect(old.stderr).toBe(
      "hiwari runs: --incident is spelled --incident-id here (--incident names the incident's file in run and compute); the old spelling still works for now\n",
    );
    expect((JSON.parse(old.stdout) as { incidentId: string }[]).map((r) => r.incidentId)).toEqual(["fin-known"]);
  });

  it("names the option and the path it cannot write (exit 2), before starting anything, leaving no file behind", {
    timeout: 120_000,
  }, async () => {
    // Arrange: a file where a folder should be (a folder that does not exist is made, as mkdir -p would)
    const dir = mkdtempSync(join(tmpdir(), "hiwari-unwritable-"));
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const state = join(dir, "state");

    // Act
    const inFile = hiwari("runs", "--incident-id", "x", "--state", join(file, "state"));
    const noFolder = hiwari("report", "--incident-id", "x", "--state", state, "--out", join(file, "r.csv"));

    // Assess
    expect([inFile.status, inFile.stderr]).toEqual([
      2,
      `hiwari: --state ${join(file, "state")}: cannot write there: a part of its path is a file, not a folder (ENOTDIR)\n`,
    ]);
    expect([noFolder.status, noFolder.stderr]).toEqual([
      2,
      `hiwari: --out ${join(file, "r.csv")}: cannot write there: a part of its path is a file, not a folder (EEXIST)\n`,
    ]);
    expect(existsSync(state)).toBe(false); // refused before the state folder was made
  });
});
