import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run, startPhase } from "../../../bin/commands/run";
import { type LocalEnvironment, openLocalEnvironment } from "../../../bin/io/local-environment";
import { LocalStateError } from "../../../bin/usage-error";
import { csvOf, incidentDoc, row } from "../../helpers/factories";

// A spawned command starts DynamoDB Local (a JVM) of its own: tens of seconds on two busy cores.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 240_000 });

// The whole local pipeline against DynamoDB Local, the stream and publish-events. The in-process runs share one
// DynamoDB Local (started once for the file, its data under one state folder); each test works on an incident of
// its own in it, so that no test reads what another wrote.
interface Envelope {
  "detail-type": string;
  detail: {
    eventId: string;
    incidentId: string;
    lineId: string;
    amount: string;
    previousAmount: string;
    delta: string;
    subscriptionId: string | null;
    version: number;
  };
}

interface Report {
  run: { runId: string; counts: Record<string, number>; totals: { serviceCode: string | null; amount: string }[] };
  eventsPublished: number;
}

let dir: string;
let state: string;
let env: LocalEnvironment;

/** Every event of `incidentId` published to the shared state folder so far, in order. */
function eventsOf(incidentId: string): Envelope[] {
  const file = join(state, "events.jsonl");
  const all = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];
  return all.map((l) => JSON.parse(l) as Envelope).filter((e) => e.detail.incidentId === incidentId);
}

/**
 * An incident of the test's own: its files in a folder of their own, run in process through the file's DynamoDB
 * Local. Each run returns its status, its report (--json) and the events it published.
 */
function incidentFiles(incidentId: string) {
  const own = join(dir, incidentId);
  mkdirSync(own);
  const incidentFile = join(own, "incident.json");
  const subsFile = join(own, "subs.csv");
  const runWith = async (
    incident: object,
    rows: ReturnType<typeof row>[],
    reason: string,
    extra: Partial<Parameters<typeof run>[0]> = {},
    held: LocalEnvironment = env,
  ) => {
    writeFileSync(incidentFile, JSON.stringify({ ...incident, incidentId }));
    writeFileSync(subsFile, csvOf(rows));
    const before = eventsOf(incidentId).length;
    let status = -1;
    const out = await capture(process.stdout, async () => {
      status = await run(
        {
          incident: incidentFile,
          subscriptions: subsFile,
          state,
          reason,
          by: "test",
          batchSize: "2",
          json: true,
          ...extra,
        },
        held,
      );
    });
    return { status, report: JSON.parse(out) as Report, events: eventsOf(incidentId).slice(before) };
  };
  return { incidentFile, subsFile, runWith };
}

const goodwill = { amount: 200, currency: "JPY" };
const base = incidentDoc({ goodwill });
const rows = [row({}, 1), row({ subscriber_id: "S-1", service_code: "IMADOKO", monthly_fee: "310" }, 2), row({}, 3)];
// The window now ends on the 21st at 14:00: 2 days instead of 3.
const corrected = incidentDoc({
  goodwill,
  suspensions: [{ serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-21T14:00:00+09:00" }],
});

describe("hiwari run (DynamoDB Local, stream, publish-events)", () => {
  afterAll(async () => {
    await env?.stop();
  });

  /**
   * DynamoDB Local, started once for these tests; and one incident's history, run once, of which each test reads
   * what it needs: the first run, the same again, a corrected window (C-3 leaves the snapshot), a dry run back to
   * the first window, then the real one. The tests that write use incidents of their own.
   */
  const HISTORY = "history";
  let history: Record<"first" | "same" | "corrected" | "preview" | "real", Awaited<ReturnType<RunWith>>>;
  type RunWith = ReturnType<typeof incidentFiles>["runWith"];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hiwari-run-"));
    state = join(dir, "state");
    env = await openLocalEnvironment(state);
    const { runWith } = incidentFiles(HISTORY);
    const first = await runWith(base, rows, "initial");
    const same = await runWith(base, rows, "same again");
    const correctedRun = await runWith(corrected, rows.slice(0, 2), "window corrected");
    const preview = await runWith(base, rows, "preview: back to the first window", { dryRun: true });
    const real = await runWith(base, rows, "the real thing");
    history = { first, same, corrected: correctedRun, preview, real };
  });

  it("emits one event per line on the first run, goodwill included, and Refund Run Completed", () => {
    const { status, report, events } = history.first;
    expect(status).toBe(0);
    expect(report.run.counts).toMatchObject({ rows: 3, calculated: 5, adjusted: 0, voided: 0, unchanged: 0 });
    // C-1 20, C-2 30, C-3 20, goodwill S-1 and S-3
    expect(events.map((e) => e["detail-type"]).sort()).toEqual([
      ...Array(5).fill("Refund Calculated"),
      "Refund Run Completed",
    ]);
    const lines = events.filter((e) => e["detail-type"] !== "Refund Run Completed");
    expect(lines.map((e) => [e.detail.subscriptionId, e.detail.amount, e.detail.delta]).sort()).toEqual(
      [
        ["C-1", "20", "20"],
        ["C-2", "30", "30"],
        ["C-3", "20", "20"],
        [null, "200", "200"],
        [null, "200", "200"],
      ].sort(),
    );
    expect(new Set(events.map((e) => e.detail.eventId)).size).toBe(events.length);
  });

  it("emits nothing but the run's completion on an identical rerun", () => {
    const { report, events } = history.same;
    expect(report.run.counts).toMatchObject({ calculated: 0, adjusted: 0, voided: 0, unchanged: 5 });
    expect(events.map((e) => e["detail-type"])).toEqual(["Refund Run Completed"]);
  });

  it("emits only the changed lines, with deltas, when a window is corrected, and voids a removed subscription", () => {
    const { report, events } = history.corrected;
    expect(report.run.counts).toMatchObject({ adjusted: 2, voided: 2, calculated: 0, unchanged: 1 });
    const byKind = (kind: string) =>
      events
        .filter((e) => e["detail-type"] === kind)
        .map((e) => [e.detail.subscriptionId, e.detail.previousAmount, e.detail.amount, e.detail.delta])
        .sort();
    expect(byKind("Refund Adjusted")).toEqual([
      ["C-1", "20", "13", "-7"],
      ["C-2", "30", "20", "-10"],
    ]);
    expect(byKind("Refund Voided")).toEqual(
      [
        ["C-3", "20", "0", "-20"],
        [null, "200", "0", "-200"],
      ].sort(),
    );
  });

  it("makes the sum of all deltas equal what is owed now, and never repeats an eventId", () => {
    // Through the corrected run: C-1 13, C-2 20 and S-1's goodwill 200 owed.
    const through = [history.first, history.same, history.corrected].flatMap((r) => r.events);
    const lines = through.filter((e) => e["detail-type"] !== "Refund Run Completed");
    expect(lines.reduce((s, e) => s + BigInt(e.detail.delta), 0n)).toBe(13n + 20n + 200n);
    const all = eventsOf(HISTORY);
    expect(new Set(all.map((e) => e.detail.eventId)).size).toBe(all.length);
  });

  it("writes nothing in a dry run, yet reports the changes a real run would make", () => {
    const { report, events } = history.preview;
    expect(report.run.counts).toMatchObject({ calculated: 2, adjusted: 2 });
    expect(events).toEqual([]);
    // The changes it would make, one file per batch and per shard, in the run's folder.
    const folder = join(state, "runs", report.run.runId, "dry-run");
    const changes = readdirSync(folder)
      .flatMap((f) => readFileSync(join(folder, f), "utf8").split("\n"))
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { change: string; version: number });
    // Versions 3: the first run wrote v1, the corrected rerun v2 (two adjusted, two voided); back to the first
    // window, the adjusted lines and the voided ones (calculated again) would all become v3.
    expect(changes.map((c) => `${c.change} v${c.version}`).sort()).toEqual([
      "adjusted v3",
      "adjusted v3",
      "calculated v3",
      "calculated v3",
    ]);
    const { calculated = 0, adjusted = 0, voided = 0 } = report.run.counts;
    expect(changes).toHaveLength(calculated + adjusted + voided);
    // The real run after it makes exactly those changes.
    expect(history.real.report.run.counts).toMatchObject({ calculated: 2, adjusted: 2 });
  });

  it("lists the incident's runs with who, why and totals (hiwari runs)", async () => {
    const { runs } = await import("../../../bin/commands/finance");
    const out = await capture(process.stdout, () => runs({ incidentId: HISTORY, state, json: true }));
    const list = JSON.parse(out) as { reason: string; requestedBy: string; status: string; dryRun: boolean }[];
    expect(list.map((r) => [r.reason, r.status, r.dryRun])).toEqual([
      ["initial", "completed", false],
      ["same again", "completed", false],
      ["window corrected", "completed", false],
      ["preview: back to the first window", "completed", true],
      ["the real thing", "completed", false],
    ]);
    expect(list.every((r) => r.requestedBy === "test")).toBe(true);
  });

  it("writes the standing lines for the books as CSV that opens cleanly in Excel (hiwari report)", async () => {
    const { report } = await import("../../../bin/commands/finance");
    const out = join(mkdtempSync(join(tmpdir(), "hiwari-report-")), "report.csv");
    const stderr = await capture(process.stderr, () => report({ incidentId: HISTORY, state, out }));
    const text = readFileSync(out, "utf8");
    expect(text.startsWith("\uFEFFlineId,")).toBe(true);
    const lines = text.trim().split("\r\n").slice(1);
    expect(lines).toHaveLength(5); // C-1, C-2, C-3 (back in the snapshot) and the goodwill of S-1 and S-3
    expect(stderr).toMatch(/IMADOKO\s+JPY\s+3 lines\s+70/);
    expect(stderr).toMatch(/goodwill\s+JPY\s+2 lines\s+400/);
    // Where every row of the snapshot behind these lines went (the last run that wrote: "the real thing").
    const accounting =
      /as of run (run-\w+) \(.*\): rows (\d+) = computed (\d+) \+ skipped (\d+) \+ rejected (\d+)/.exec(stderr);
    const [, runId, judged, ...ended] = accounting ?? [];
    expect(runId).toBe(history.real.report.run.runId);
    expect(ended.reduce((sum, x) => sum + Number(x), 0)).toBe(Number(judged));
  });

  it("refuses a second run of the incident while the first holds the lock", async () => {
    // Arrange: an incident of its own, locked by another run
    const { runWith } = incidentFiles("locked");
    await env.store.acquireLock("locked", "run-someone-else", 60_000);

    // Act
    const blocked = await runWith(base, rows, "blocked").catch((e: unknown) => e);

    // Assess: refused, naming the holder; the lock still the other run's
    expect((blocked as Error).message).toMatch(/incident locked is being run by run-someone-else/);
    expect(await env.store.breakLock("locked")).toBe("run-someone-else");
  });

  /**
   * The file's environment with its passes over the stream watched (how many, whether two ran at once); `fail` may
   * make a pass throw instead (by its number, 1 being the drain of earlier runs' events at the start).
   */
  function watched(fail: (pass: number) => Error | undefined = () => undefined) {
    const seen = { passes: 0, running: 0, overlapped: false };
    const publishPending: LocalEnvironment["publishPending"] = async (onCommitted) => {
      const pass = ++seen.passes;
      seen.running++;
      seen.overlapped ||= seen.running > 1;
      try {
        const error = fail(pass);
        if (error) throw error;
        return await env.publishPending(onCommitted);
      } finally {
        seen.running--;
      }
    };
    return { held: { ...env, publishPending }, seen };
  }

  it("publishes while it writes, one pass at a time, and reports every event it appended", async () => {
    // 40 subscriptions in batches of 2: 20 batches, then 64 shards, far longer than the first pass's 0.25 s wait
    const many = Array.from({ length: 40 }, (_, i) => row({ subscriber_id: `S-${i % 25}` }, i));
    const { held, seen } = watched();
    const { runWith } = incidentFiles("along");
    const { status, report, events } = await runWith(base, many, "initial", {}, held);
    expect(status).toBe(0);
    expect(seen.overlapped).toBe(false);
    expect(seen.passes).toBeGreaterThanOrEqual(3); // the start's drain, at least one along the run, the end's
    expect(events).toHaveLength(40 + 25 + 1); // a line each, goodwill for each subscriber, the run's completion
    expect(new Set(events.map((e) => e.detail.eventId)).size).toBe(events.length);
    expect(report.eventsPublished).toBe(events.length);
  });

  it("runs no pass over the stream on a dry run: events an earlier run left go out with the next run that writes", async () => {
    // Arrange: a first run whose events could not be appended (a full disk after the start's drain): in the stream
    const full = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    const { runWith } = incidentFiles("along-dry");
    await expect(runWith(base, rows, "first", {}, watched((p) => (p > 1 ? full : undefined)).held)).rejects.toThrow(
      LocalStateError,
    );

    // Act: a preview, the same preview request again (completed before), then a rerun that writes
    const dry = watched();
    const preview = await runWith(base, rows, "preview", { dryRun: true, requestId: "preview-1" }, dry.held);
    const again = await runWith(base, rows, "preview", { dryRun: true, requestId: "preview-1" }, dry.held);
    const rerun = await runWith(base, rows, "rerun", {}, watched().held);

    // Assert: the previews neither read nor published; the rerun published the first run's events, then its own
    expect([preview.status, again.status, dry.seen.passes, preview.events, again.events]).toEqual([0, 0, 0, [], []]);
    expect([preview.report.eventsPublished, again.report.eventsPublished]).toEqual([0, 0]);
    expect(rerun.status).toBe(0);
    expect(rerun.events).toHaveLength(3 + 2 + 1 + 1); // the first run's lines, goodwill, completion; the rerun's
  });

  it("says the disk is full when the events' append meets ENOSPC, the run recorded completed, its events kept in the stream", async () => {
    // Every pass after the start's drain meets a full disk: those along the run end quietly, the end's is said.
    const full = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    const { held } = watched((pass) => (pass > 1 ? full : undefined));
    const { runWith } = incidentFiles("along-full");
    const error = await runWith(base, rows, "initial", {}, held).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalStateError);
    expect((error as Error).message).toMatch(new RegExp(`^the disk holding ${state} is full`));
    expect((error as Error).message).toContain("ENOSPC: no space left on device");
    const runs = await env.store.listRuns("along-full");
    expect(runs.map((r) => r.status)).toEqual(["completed"]);
    expect(eventsOf("along-full")).toEqual([]);
    // The next pass, with room, publishes them: three lines, two subscribers' goodwill, the run's completion.
    await env.publishPending();
    expect(eventsOf("along-full")).toHaveLength(3 + 2 + 1);
  });

  it("refuses a rerun whose snapshot has a quote never closed or a row without an id: nothing is voided", async () => {
    // Arrange: an incident of its own, run once
    const { incidentFile, subsFile, runWith } = incidentFiles("broken");
    expect((await runWith(base, rows, "first")).status).toBe(0);
    const published = eventsOf("broken").length;
    const good = csvOf(rows).trimEnd().split("\n");

    for (const broken of [`C-9,S-9,IMADOKO,"210,JPY,2011-01-01,,,`, ",S-9,IMADOKO,210,JPY,2011-01-01,,,"]) {
      writeFileSync(subsFile, `${[good[0], good[1], broken, good[2], good[3]].join("\n")}\n`);
      // Act
      const refused = run(
        { incident: incidentFile, subscriptions: subsFile, state, reason: "broken", by: "test", batchSize: "2" },
        env,
      );
      // Assess
      await expect(refused).rejects.toThrow(
        /a run cannot tell whose stored lines these rows would keep; fix them and run again:\n {2}line 3: /,
      );
    }
    expect(eventsOf("broken")).toHaveLength(published);
  });
});

/** Runs `act` with what it writes to `stream` kept, not printed; returns that text. */
async function capture(stream: NodeJS.WriteStream, act: () => Promise<unknown>): Promise<string> {
  const out: string[] = [];
  const write = stream.write.bind(stream);
  stream.write = ((chunk: string) => {
    out.push(String(chunk));
    return true;
  }) as typeof stream.write;
  try {
    await act();
  } finally {
    stream.write = write;
  }
  return out.join("");
}

/** `hiwari …` as a user runs it, its stderr not a terminal (a pipe). */
function hiwari(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "bin/hiwari.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, NODE_NO_WARNINGS: "1", POWERTOOLS_LOG_LEVEL: "ERROR" },
  });
}

/**
 * Times as `N s`, request and run ids as `REQUEST` and `RUN`, and how many events went out while the run wrote (the
 * rest after it): what differs between two runs of the same files.
 */
const steady = (text: string) =>
  text
    .replaceAll(/\d+\.\d s\b/g, "N s")
    .replaceAll(/ \([\d,]+ of them while the run wrote\)/g, "")
    .replaceAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "REQUEST")
    .replaceAll(/run-[0-9a-f]{20}/g, "RUN");

describe("hiwari run as a command (stderr not a terminal)", () => {
  // One state folder: a first run without --by or --reason, then a dry run with a reason; each test reads its output.
  const folder = mkdtempSync(join(tmpdir(), "hiwari-run-cli-"));
  const cli = join(folder, "state");
  const files = ["--incident", join(folder, "incident.json"), "--subscriptions", join(folder, "subs.csv")];
  const common = [...files, "--state", cli, "--batch-size", "2"];
  let first: ReturnType<typeof hiwari>;
  let dryRun: ReturnType<typeof hiwari>;

  beforeAll(() => {
    writeFileSync(join(folder, "incident.json"), JSON.stringify(incidentDoc({ incidentId: "cli", goodwill })));
    writeFileSync(join(folder, "subs.csv"), csvOf(rows));
    first = hiwari("run", ...common);
    dryRun = hiwari("run", ...common, "--reason", "preview: the same again", "--dry-run");
  });

  it("prints one line per phase, in order, each with its time", () => {
    expect(first.status).toBe(0);
    expect(steady(first.stderr)).toBe(
      [
        "hiwari run: DynamoDB Local started in N s",
        "hiwari run: request id REQUEST (run RUN); to resume: --request-id REQUEST",
        "hiwari run: prepare done in N s",
        "hiwari run: batches 2 of 2 done in N s",
        "hiwari run: finalize 64 of 64 shards done in N s",
        "hiwari run: published 6 events in N s",
        "",
      ].join("\n"),
    );
  });

  it("records the operating system's user when --by is not given, and an incident's first run as the initial run", () => {
    expect(first.status).toBe(0);
    expect(steady(first.stdout).split("\n").slice(0, 2)).toEqual([
      "run RUN of incident cli: completed",
      `  by ${userInfo().username}: initial run`,
    ]);
  });

  it("says that a dry run publishes nothing, where a run says what it published", () => {
    expect([dryRun.status, steady(dryRun.stdout)]).toEqual([
      0,
      [
        "run RUN of incident cli (dry run): completed",
        `  by ${userInfo().username}: preview: the same again`,
        "  rows 3 = computed 3 + skipped 0 + rejected 0",
        "  lines: new 0, adjusted 0, voided 0, unchanged 5",
        "  owed now, per service and currency:",
        "    IMADOKO      JPY           3 lines              70",
        "    goodwill     JPY           2 lines             400",
        "  events: none, a dry run publishes nothing",
        `  dry run: nothing written; the changes it would make are in ${join(cli, "runs", "RUN", "dry-run")}`,
        "",
      ].join("\n"),
    ]);
    expect(first.stdout).toContain(`  events published now: 6, appended to ${join(cli, "events.jsonl")}\n`);
  });

  it("refuses a rerun without --reason (exit 2), asking why, before anything is written", () => {
    // Act: the incident has two runs (the first, the dry run)
    const again = hiwari("run", ...common);

    // Assess
    expect([again.status, again.stdout, steady(again.stderr)]).toEqual([
      2,
      "",
      "hiwari run: DynamoDB Local started in N s\n" +
        "hiwari: --reason: incident cli was run before (2 runs; hiwari runs --incident-id cli lists them): say why " +
        'this one, e.g. --reason "window ended 14:00"\n',
    ]);
    expect(readdirSync(join(cli, "runs"))).toHaveLength(2);
  });
});

describe("hiwari run's progress on a terminal", () => {
  it("redraws a phase's line in place as it goes, and ends it with its time", () => {
    // Arrange: a terminal that keeps what is written to it
    const written: string[] = [];
    const terminal = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;

    // Act
    const phase = startPhase("batches", 3, "", terminal);
    phase.step();
    phase.step(2);
    phase.end();

    // Assess: drawn at the start and after each step, each time over the line before; then the line that stays
    expect(steady(written.join(""))).toBe(
      "\r\x1b[Khiwari run: batches 0 of 3… N s" +
        "\r\x1b[Khiwari run: batches 1 of 3… N s" +
        "\r\x1b[Khiwari run: batches 3 of 3… N s" +
        "\r\x1b[Khiwari run: batches 3 of 3 done in N s\n",
    );
  });

  it("prints nothing but the phase's last line when stderr is not a terminal", () => {
    const written: string[] = [];
    const pipe = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;

    const phase = startPhase("finalize", 2, "shards", pipe);
    phase.step();
    phase.step();
    phase.end();

    expect(steady(written.join(""))).toBe("hiwari run: finalize 2 of 2 shards done in N s\n");
  });
});

describe("hiwari run on a snapshot whose header it cannot use", () => {
  it("refuses it (exit 2) naming the file, the line and the columns, before DynamoDB Local starts or anything is written", () => {
    // Arrange: a header without most of the contract's columns
    const dir = mkdtempSync(join(tmpdir(), "hiwari-bad-header-"));
    const subs = join(dir, "subs.csv");
    writeFileSync(subs, "subscription_id,subscriber_id\nC-1,S-1\n");
    writeFileSync(join(dir, "incident.json"), JSON.stringify(incidentDoc()));
    const state = join(dir, "state");

    // Act
    const withState = hiwari(
      "run",
      "--incident",
      join(dir, "incident.json"),
      "--subscriptions",
      subs,
      "--state",
      state,
    );

    // Assess: the message alone, exit 2; no state folder made
    const message =
      `hiwari: ${subs}: line 1: the header lacks the columns service_code, monthly_fee, currency, active_from, ` +
      "active_to, time_zone, billing_day\n";
    expect([withState.status, withState.stdout, withState.stderr]).toEqual([2, "", message]);
    expect(existsSync(state)).toBe(false);
  });
});
