import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunOptions, run } from "../../../bin/commands/run";
import { LocalStateError } from "../../../bin/usage-error";
import { runIdOf } from "../../../shared/pipeline/run-context";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { checkLocalRun } from "../../helpers/local-run-checks";
import { processesNaming } from "../../helpers/processes";
import { quiet } from "../../helpers/stdout";

/**
 * A real small disk: a 16 MiB tmpfs holds the state folder (DynamoDB Local's data file, events.jsonl), and a filler
 * file on it decides when it is full: written to leave a little space, deleted to free it. A 600-row run grows the
 * data file by about 2.8 MB and appends about 0.5 MB of events, so 1 MiB left once the batches are cut fills the
 * disk during the batches, whatever the machine's speed.
 */
const TMPFS_SIZE = "16m";
const LEFT_FOR_BATCHES = 1024 * 1024;
/** Room for DynamoDB Local to start, not for a run (nor for many events, ~500 bytes each). */
const LEFT_FOR_EVENTS = 16 * 1024;

let mountPoint: string | undefined;
let skipReason: string | undefined;

beforeAll(() => {
  if (process.getuid?.() !== 0) {
    skipReason = "mounting a tmpfs needs root";
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "hiwari-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE}`, "tmpfs", dir], { stdio: "pipe" });
    mountPoint = dir;
  } catch (e) {
    skipReason = `mount -t tmpfs is not allowed here: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || e}`;
    rmSync(dir, { recursive: true, force: true });
  }
});

afterAll(() => {
  if (!mountPoint) return;
  try {
    execFileSync("umount", ["-l", mountPoint], { stdio: "pipe" });
  } finally {
    rmSync(mountPoint, { recursive: true, force: true });
  }
});

/** The bytes still free on the tmpfs (as root sees them). */
const freeOn = (dir: string) => {
  const s = statfsSync(dir);
  return Number(s.bfree) * Number(s.bsize);
};

/** Writes the filler so that about `left` bytes stay free (a write the disk cuts short fills it all the same). */
function fill(dir: string, left: number): void {
  try {
    writeFileSync(join(dir, "filler"), Buffer.alloc(Math.max(0, freeOn(dir) - left)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  }
}

const unfill = (dir: string) => rmSync(join(dir, "filler"), { force: true });

/** An incident with 200 yen of goodwill and `count` subscriptions of `subscribers` subscribers, in a folder of their own. */
function incidentFiles(incidentId: string, count: number, subscribers: number) {
  const dir = mkdtempSync(join(tmpdir(), `hiwari-${incidentId}-`));
  const doc = incidentDoc({ incidentId, goodwill: { amount: 200, currency: "JPY" } });
  const csv = csvOf(Array.from({ length: count }, (_, i) => row({ subscriber_id: `S-${i % subscribers}` }, i)));
  writeFileSync(join(dir, "incident.json"), JSON.stringify(doc));
  writeFileSync(join(dir, "subs.csv"), csv);
  return { doc, csv, incident: join(dir, "incident.json"), subscriptions: join(dir, "subs.csv") };
}

describe("hiwari run when the disk under --state fills", () => {
  it("says the disk is full (DynamoDB Local's data, or the events' append), leaves the run resumable, and the same request then completes clean", {
    timeout: 300_000,
  }, async (ctx) => {
    if (!mountPoint) return ctx.skip(skipReason);
    const disk = mountPoint;
    const state = join(disk, "state");
    const runOf = (files: ReturnType<typeof incidentFiles>, requestId: string): RunOptions => ({
      incident: files.incident,
      subscriptions: files.subscriptions,
      state,
      reason: "disk full",
      by: "test",
      batchSize: "5",
      requestId,
    });

    // Arrange: 600 subscriptions of 400 subscribers, on a state folder never used (no stream checkpoint yet)
    const full = incidentFiles("full", 600, 400);
    const options = runOf(full, "req-full");
    const manifest = join(state, "runs", runIdOf("full", "req-full"), "manifest.csv");

    // Act 1: once prepare has cut the batches, the disk is filled but for 1 MiB
    const first = quiet(() => run(options)).catch((e: unknown) => e);
    let settled = false;
    void first.finally(() => {
      settled = true;
    });
    while (!existsSync(manifest) && !settled) await new Promise((r) => setTimeout(r, 20));
    fill(disk, LEFT_FOR_BATCHES);
    const error = await first;

    // Assess 1: a full disk, named, with the folder and the command that resumes the same request
    expect(error).toBeInstanceOf(LocalStateError);
    const message = (error as Error).message;
    // Which writer meets the full disk first, DynamoDB Local (its data) or this process (a batch's books, the run's
    // files), is a race between two processes; either is named, and either leaves the run resumable.
    expect(message).toMatch(
      new RegExp(`^the disk holding ${state} is full \\([\\d,]+ bytes free\\): (DynamoDB Local|a write was refused)`),
    );
    expect(message).toContain("Nothing stored was lost");
    expect(message).toContain(`--state ${state}`);
    expect(message).toContain("--request-id req-full");
    expect(processesNaming(join(state, "dynamodb"))).toEqual([]);

    // Act 2: some space freed, not enough for a run: the resume meets the full disk again, in its first drain (the
    // events of lines stored after the last pass that published along the run, if any) or in its batches
    unfill(disk);
    fill(disk, LEFT_FOR_EVENTS);
    const second = await quiet(() => run(options)).catch((e: unknown) => e);

    // Assess 2: either way the same full disk, with the same way back
    expect(second).toBeInstanceOf(LocalStateError);
    const againMessage = (second as Error).message;
    expect(againMessage).toMatch(new RegExp(`^the disk holding ${state} is full`));
    expect(againMessage).toContain("--request-id req-full");

    // Act 3: the space freed, the same request again
    unfill(disk);
    const code = await quiet(() => run(options));

    // Assess 3: completed (never recorded as failed); every check of a local run (lines, events, deltas, no Java)
    expect(code).toBe(0);
    const history = await checkLocalRun(state, full.doc, full.csv);
    expect(history.map((r) => `${r.runId} ${r.status}`)).toEqual([`${runIdOf("full", "req-full")} completed`]);
    const kinds: Record<string, number> = {};
    for (const line of readFileSync(join(state, "events.jsonl"), "utf8").trimEnd().split("\n")) {
      const type = (JSON.parse(line) as { "detail-type": string })["detail-type"];
      kinds[type] = (kinds[type] ?? 0) + 1;
    }
    expect(kinds).toEqual({ "Refund Calculated": 600 + 400, "Refund Run Completed": 1 });
  });
});
