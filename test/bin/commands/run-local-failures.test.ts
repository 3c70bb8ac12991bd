import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../../bin/commands/run";
import { LocalStateError } from "../../../bin/usage-error";
import { runIdOf } from "../../../shared/pipeline/run-context";
import { csvOf, incidentDoc, row } from "../../helpers/factories";

/** Pids of the DynamoDB Local (java) processes whose command line names `path`. */
function javaUnder(path: string): number[] {
  try {
    return execFileSync("pgrep", ["-f", path], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

const quiet = async <T>(act: () => Promise<T>): Promise<T> => {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await act();
  } finally {
    process.stdout.write = write;
  }
};

describe("hiwari run when DynamoDB Local dies under it", () => {
  it("says which process died and how, leaves the run resumable, and the same request then completes, each event once", {
    timeout: 240_000,
  }, async () => {
    // Arrange: 600 subscriptions in batches of 5 (time enough to kill DynamoDB Local mid-run)
    const dir = mkdtempSync(join(tmpdir(), "hiwari-dies-"));
    const state = join(dir, "state");
    const doc = incidentDoc({ incidentId: "dies", goodwill: { amount: 200, currency: "JPY" } });
    const rows = Array.from({ length: 600 }, (_, i) => row({ subscriber_id: `S-${i % 400}` }, i));
    writeFileSync(join(dir, "incident.json"), JSON.stringify(doc));
    writeFileSync(join(dir, "subs.csv"), csvOf(rows));
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
    const [pid] = javaUnder(join(state, "dynamodb"));
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
    expect(javaUnder(join(state, "dynamodb"))).toEqual([]);
  });
});
