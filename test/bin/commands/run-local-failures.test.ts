import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../../bin/commands/run";
import { LocalStateError } from "../../../bin/usage-error";
import { runIdOf } from "../../../shared/pipeline/run-context";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { checkLocalRun } from "../../helpers/local-run-checks";
import { processesNaming } from "../../helpers/processes";
import { captureStdout, quiet } from "../../helpers/stdout";

/**
 * An incident (200 yen of goodwill) and 600 subscriptions of 400 subscribers in a folder of their own: batches of 5
 * leave time to interrupt a run. A whole run stores 600 refund lines and 400 goodwill lines.
 */
function sixHundredRows(incidentId: string) {
  const dir = mkdtempSync(join(tmpdir(), `hiwari-${incidentId}-`));
  const doc = incidentDoc({ incidentId, goodwill: { amount: 200, currency: "JPY" } });
  const csv = csvOf(Array.from({ length: 600 }, (_, i) => row({ subscriber_id: `S-${i % 400}` }, i)));
  writeFileSync(join(dir, "incident.json"), JSON.stringify(doc));
  writeFileSync(join(dir, "subs.csv"), csv);
  return { dir, state: join(dir, "state"), doc, csv };
}

/** `hiwari run` on the 600 rows as a user runs it: its own process (through tsx), with the environment bin/hiwari.js sets. */
function hiwariRun(
  w: ReturnType<typeof sixHundredRows>,
  flags: { batchSize: string; requestId?: string },
  extra: { preload?: string[]; env?: Record<string, string> } = {},
) {
  const args = ["run", "--incident", join(w.dir, "incident.json"), "--subscriptions", join(w.dir, "subs.csv")];
  args.push("--state", w.state, "--batch-size", flags.batchSize, "--reason", "r", "--by", "t");
  if (flags.requestId) args.push("--request-id", flags.requestId);
  const imports = ["tsx", ...(extra.preload ?? [])].flatMap((m) => ["--import", m]);
  const cli = spawn(process.execPath, [...imports, "bin/hiwari.ts", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true", ...extra.env },
  });
  let stderr = "";
  cli.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    cli.once("exit", (code, signal) => done({ code, signal })),
  );
  return { cli, exited, stderr: () => stderr };
}

/** The same request again, in this process, as the printed command would run it. */
const resume = (w: ReturnType<typeof sixHundredRows>, batchSize: string, requestId: string) =>
  quiet(() =>
    run({
      incident: join(w.dir, "incident.json"),
      subscriptions: join(w.dir, "subs.csv"),
      state: w.state,
      reason: "r",
      by: "t",
      batchSize,
      requestId,
    }),
  );

/** Waits until `ready()` holds, polling (a loaded machine is slow, never wrong). */
async function until(ready: () => boolean, what: string, seconds = 120): Promise<void> {
  for (const deadline = Date.now() + seconds * 1000; !ready(); ) {
    if (Date.now() > deadline) throw new Error(`not within ${seconds} s: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("hiwari run when DynamoDB Local dies under it", () => {
  it("says which process died and how, leaves the run resumable, and the same request then completes, each event once", {
    timeout: 240_000,
  }, async () => {
    // Arrange: 600 subscriptions in batches of 5 (time enough to kill DynamoDB Local mid-run)
    const w = sixHundredRows("dies");
    const options = {
      incident: join(w.dir, "incident.json"),
      subscriptions: join(w.dir, "subs.csv"),
      state: w.state,
      reason: "dies mid-run",
      by: "test",
      batchSize: "5",
      requestId: "req-dies",
    };
    const manifest = join(w.state, "runs", runIdOf("dies", "req-dies"), "manifest.csv");

    // Act 1: once prepare has cut the batches, DynamoDB Local is killed
    const first = quiet(() => run(options)).catch((e: unknown) => e);
    await until(() => existsSync(manifest), "the batches cut");
    const [pid] = processesNaming(join(w.state, "dynamodb"));
    if (!pid) throw new Error("no DynamoDB Local under the state folder");
    process.kill(pid, "SIGKILL");
    const error = await first;

    // Assess 1: named, with the command that resumes it
    expect(error).toBeInstanceOf(LocalStateError);
    const message = (error as Error).message;
    expect(message).toMatch(new RegExp(`^DynamoDB Local \\(pid ${pid}\\) was killed by SIGKILL`));
    expect(message).toContain("The run was not finished");
    expect(message).toContain(`--state ${w.state}`);
    expect(message).toContain("--request-id req-dies");

    // Act 2: the same request again
    const code = await quiet(() => run(options));

    // Assess 2: completed; every line compute's, each event once, every line whole; 600 refund lines (210 yen,
    // 3 days of December: floor(210 × 3 / 31) = 20 each), 400 goodwill, the run's
    expect(code).toBe(0);
    const history = await checkLocalRun(w.state, w.doc, w.csv);
    expect(history.map((r) => r.status)).toEqual(["completed"]);
    expect(readFileSync(join(w.state, "events.jsonl"), "utf8").trimEnd().split("\n")).toHaveLength(600 + 400 + 1);
  });
});

describe("hiwari run on SIGINT or SIGTERM", () => {
  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)(
    "%s mid-batch: stops after the writes in flight, records the run as interrupted, frees the lock, stops DynamoDB Local, prints how to resume (exit %i)",
    {
      timeout: 240_000,
    },
    async (signal, status) => {
      // Arrange: 600 rows in batches of 5, the command in its own process
      const w = sixHundredRows(signal.toLowerCase());
      const manifest = join(w.state, "runs", runIdOf(signal.toLowerCase(), "req-int"), "manifest.csv");
      const hiwari = hiwariRun(w, { batchSize: "5", requestId: "req-int" });

      // Act: the signal once the batches are under way (watched meanwhile with hiwari runs, through the run's instance)
      await until(() => existsSync(manifest), "the batches cut");
      const { runs } = await import("../../../bin/commands/finance");
      const watch = () => captureStdout(() => runs({ incidentId: signal.toLowerCase(), state: w.state, json: true }));
      const { out: during } = await watch();
      hiwari.cli.kill(signal);
      const { code } = await hiwari.exited;

      // Assess: the documented status, why and how to resume; no DynamoDB Local left; the run interrupted, its lock free
      expect(code).toBe(status);
      const stderr = hiwari.stderr();
      expect(stderr).toContain(`hiwari: ${signal}: stopping once the writes in flight are done`);
      expect(stderr).toMatch(
        new RegExp(`hiwari: interrupted by ${signal}: run run-[0-9a-f]{20} stopped after its writes in flight`),
      );
      expect(stderr).toContain("--request-id req-int");
      expect(stderr).not.toContain("    at "); // no stack trace
      expect(processesNaming(join(w.state, "dynamodb"))).toEqual([]);
      const { out: listed } = await watch();
      expect((JSON.parse(during) as { status: string }[]).map((r) => r.status)).toEqual(["running"]);
      expect((JSON.parse(listed) as { status: string }[]).map((r) => r.status)).toEqual(["interrupted"]);

      // Act 2, Assess 2: the same request resumes and completes: every check
      expect(await resume(w, "5", "req-int")).toBe(0);
      const history = await checkLocalRun(w.state, w.doc, w.csv);
      expect(history.map((r) => r.status)).toEqual(["completed"]);
    },
  );
});

describe("hiwari run killed (SIGKILL), then the same request again", () => {
  it("mid-batch: DynamoDB Local stopped by its watchdog; the printed request id resumes it to the same end", {
    timeout: 240_000,
  }, async () => {
    // Arrange: no --request-id: the generated one is printed before anything is written
    const w = sixHundredRows("killed");
    const hiwari = hiwariRun(w, { batchSize: "5" });
    await until(() => /request id (\S+) \(run (run-[0-9a-f]{20})\)/.test(hiwari.stderr()), "the request id printed");
    const [, requestId, runId] = /request id (\S+) \(run (run-[0-9a-f]{20})\)/.exec(hiwari.stderr()) ?? [];
    const manifest = join(w.state, "runs", runId as string, "manifest.csv");

    // Act: SIGKILL once the batches are under way
    await until(() => existsSync(manifest), "the batches cut");
    hiwari.cli.kill("SIGKILL");
    expect((await hiwari.exited).signal).toBe("SIGKILL");

    // Assess 1: DynamoDB Local does not outlive it; the run is left running (its lock this request's)
    await until(() => processesNaming(join(w.state, "dynamodb")).length === 0, "DynamoDB Local stopped", 60);
    expect(hiwari.stderr()).toContain(`to resume: --request-id ${requestId}`);

    // Act 2, Assess 2
    expect(await resume(w, "5", requestId as string)).toBe(0);
    const history = await checkLocalRun(w.state, w.doc, w.csv);
    expect(history.map((r) => [r.runId, r.status])).toEqual([[runId, "completed"]]);
  });

  it.each([
    ["after the second page's append, before its checkpoint", "events.jsonl:2:after"],
    ["inside the first page's append (a line cut short)", "events.jsonl:1:torn"],
  ])("%s: events.jsonl ends with every event once, every line whole", { timeout: 240_000 }, async (_, at) => {
    // Arrange: 1,001 events, published as the run writes them, in pages of up to 500; the process dies at the
    // chosen append
    const w = sixHundredRows(`append-${at.split(":")[1]}`);
    const hiwari = hiwariRun(
      w,
      { batchSize: "100", requestId: "req-append" },
      { preload: ["./test/helpers/die-at-append.ts"], env: { HIWARI_DIE_AT_APPEND: at } },
    );

    // Act
    const died = await hiwari.exited;
    await until(() => processesNaming(join(w.state, "dynamodb")).length === 0, "DynamoDB Local stopped", 60);
    const left = readFileSync(join(w.state, "events.jsonl"), "utf8");
    const checkpoint = JSON.parse(readFileSync(join(w.state, "stream-checkpoint.json"), "utf8")) as {
      committed: Record<string, number>;
    };
    const uncommitted = Buffer.byteLength(left) > (checkpoint.committed["events.jsonl"] ?? 0);
    const resumed = await resume(w, "100", "req-append");

    // Assess: it died where meant (the file holds the uncommitted page, whole, or a torn line); the resume
    // republished
    expect(died.signal).toBe("SIGKILL");
    expect(at.endsWith("torn") ? !left.endsWith("\n") : left.endsWith("\n") && uncommitted).toBe(true);
    expect(resumed).toBe(0);
    const history = await checkLocalRun(w.state, w.doc, w.csv);
    expect(history.map((r) => r.status)).toEqual(["completed"]);
    expect(readFileSync(join(w.state, "events.jsonl"), "utf8").trimEnd().split("\n")).toHaveLength(600 + 400 + 1);
  });
});
