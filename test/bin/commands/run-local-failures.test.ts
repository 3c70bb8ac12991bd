import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../../bin/commands/run";
import { LocalStateError } from "../../../bin/usage-error";
import { runIdOf } from "../../../shared/pipeline/run-context";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { processesNaming } from "../../helpers/processes";
import { captureStdout, quiet } from "../../helpers/stdout";

/**
 * An incident (200 yen of goodwill) and 600 subscriptions of 400 subscribers in a folder of their own: batches of 5
 * leave time to interrupt a run. A whole run stores 600 refund lines and 400 goodwill lines.
 */
function sixHundredRows(incidentId: string) {
  const dir = mkdtempSync(join(tmpdir(), `hiwari-${incidentId}-`));
  const doc = incidentDoc({ incidentId, goodwill: { amount: 200, currency: "JPY" } });
  const rows = Array.from({ length: 600 }, (_, i) => row({ subscriber_id: `S-${i % 400}` }, i));
  writeFileSync(join(dir, "incident.json"), JSON.stringify(doc));
  writeFileSync(join(dir, "subs.csv"), csvOf(rows));
  return { dir, state: join(dir, "state") };
}

describe("hiwari run when DynamoDB Local dies under it", () => {
  it("says which process died and how, leaves the run resumable, and the same request then completes, each event once", {
    timeout: 240_000,
  }, async () => {
    // Arrange: 600 subscriptions in batches of 5 (time enough to kill DynamoDB Local mid-run)
    const { dir, state } = sixHundredRows("dies");
    const options = {
      incident: join(dir, "incident.json"),
      subscriptions: join(dir, "subs.csv"),
      state,
      reason: "dies mid-run",
      by: "test",
      batchSize: "5",
      requestId: "req-dies",
    };
    const manifest = join(state, "runs", runIdOf("dies", "req-dies"), "manifest.csv");

    // Act 1: once prepare has cut the batches, DynamoDB Local is killed
    const first = quiet(() => run(options)).catch((e: unknown) => e);
    while (!existsSync(manifest)) await new Promise((r) => setTimeout(r, 50));
    const [pid] = processesNaming(join(state, "dynamodb"));
    if (!pid) throw new Error("no DynamoDB Local under the state folder");
    process.kill(pid, "SIGKILL");
    const error = await first;

    // Assess 1: named, with the command that resumes it
    expect(error).toBeInstanceOf(LocalStateError);
    const message = (error as Error).message;
    expect(message).toMatch(new RegExp(`^DynamoDB Local \\(pid ${pid}\\) was killed by SIGKILL`));
    expect(message).toContain("The run was not finished");
    expect(message).toContain(`--state ${state}`);
    expect(message).toContain("--request-id req-dies");

    // Act 2: the same request again
    const code = await quiet(() => run(options));

    // Assess 2: completed; each event once, every line whole
    expect(code).toBe(0);
    const events = readFileSync(join(state, "events.jsonl"), "utf8");
    expect(events.endsWith("\n")).toBe(true);
    const ids = events
      .trimEnd()
      .split("\n")
      .map((l) => (JSON.parse(l) as { detail: { eventId: string } }).detail.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    // 600 refund lines (210 yen, 3 days of December: floor(210 × 3 / 31) = 20 each), 400 goodwill, the run's
    expect(ids).toHaveLength(600 + 400 + 1);
    expect(processesNaming(join(state, "dynamodb"))).toEqual([]);
  });
});

describe("hiwari run on SIGINT or SIGTERM", () => {
  it("stops after the writes in flight, records the run as interrupted, frees the lock, stops DynamoDB Local, prints how to resume (exit 130)", {
    timeout: 240_000,
  }, async () => {
    // Arrange: the command as users run it (through tsx, with the environment bin/hiwari.js sets), 600 rows
    const { dir, state } = sixHundredRows("sigint");
    const args = ["--incident", join(dir, "incident.json"), "--subscriptions", join(dir, "subs.csv")];
    args.push("--state", state, "--batch-size", "5", "--request-id", "req-int", "--reason", "r", "--by", "t");
    const manifest = join(state, "runs", runIdOf("sigint", "req-int"), "manifest.csv");
    const cli = spawn(process.execPath, ["--import", "tsx", "bin/hiwari.ts", "run", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true" },
    });
    let stderr = "";
    cli.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((done) => cli.once("exit", (code) => done(code)));

    // Act: Ctrl-C once the batches are under way
    while (!existsSync(manifest)) await new Promise((r) => setTimeout(r, 50));
    cli.kill("SIGINT");
    const code = await exited;

    // Assess: exit 130, why and how to resume; no DynamoDB Local left; the run interrupted, its lock free
    expect(code).toBe(130);
    expect(stderr).toContain("hiwari: SIGINT: stopping once the writes in flight are done");
    expect(stderr).toMatch(/hiwari: interrupted by SIGINT: run run-[0-9a-f]{20} stopped after its writes in flight/);
    expect(stderr).toContain("--request-id req-int");
    expect(stderr).not.toContain("    at "); // no stack trace
    expect(processesNaming(join(state, "dynamodb"))).toEqual([]);
    const { runs } = await import("../../../bin/commands/finance");
    const { out: listed } = await captureStdout(() => runs({ incident: "sigint", state, json: true }));
    expect((JSON.parse(listed) as { status: string }[]).map((r) => r.status)).toEqual(["interrupted"]);

    // Act 2, Assess 2: the same request resumes and completes; each event once
    const resumed = await quiet(() =>
      run({
        incident: join(dir, "incident.json"),
        subscriptions: join(dir, "subs.csv"),
        state,
        reason: "r",
        by: "t",
        batchSize: "5",
        requestId: "req-int",
      }),
    );
    expect(resumed).toBe(0);
    const ids = readFileSync(join(state, "events.jsonl"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => (JSON.parse(l) as { detail: { eventId: string } }).detail.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(600 + 400 + 1);
  });
});
