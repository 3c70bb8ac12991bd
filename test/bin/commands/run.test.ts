import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../../../bin/commands/run";
import { csvOf, incidentDoc, row } from "../../helpers/factories";

// Each run starts DynamoDB Local (a JVM) and some tests make two: minutes, not seconds, on two busy cores.
vi.setConfig({ testTimeout: 180_000 });

// The whole local pipeline against DynamoDB Local (started by each run on a free port, data under the state folder).
interface Envelope {
  "detail-type": string;
  detail: {
    eventId: string;
    lineId: string;
    amount: string;
    previousAmount: string;
    delta: string;
    subscriptionId: string | null;
    version: number;
  };
}

let dir: string;
let state: string;
let incidentFile: string;
let subsFile: string;
let seen = 0;

function newEvents(): Envelope[] {
  const file = join(state, "events.jsonl");
  const all = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];
  const fresh = all.slice(seen).map((l) => JSON.parse(l) as Envelope);
  seen = all.length;
  return fresh;
}

async function runWith(
  incident: object,
  rows: ReturnType<typeof row>[],
  reason: string,
  extra: Partial<Parameters<typeof run>[0]> = {},
) {
  writeFileSync(incidentFile, JSON.stringify(incident));
  writeFileSync(subsFile, csvOf(rows));
  let status = -1;
  const out = await capture(process.stdout, async () => {
    status = await run({
      incident: incidentFile,
      subscriptions: subsFile,
      state,
      reason,
      by: "test",
      batchSize: "2",
      json: true,
      ...extra,
    });
  });
  return {
    status,
    report: JSON.parse(out) as {
      run: { runId: string; counts: Record<string, number>; totals: { serviceCode: string | null; amount: string }[] };
    },
  };
}

const goodwill = { amount: 200, currency: "JPY" };
const base = incidentDoc({ goodwill });
const rows = [row({}, 1), row({ subscriber_id: "S-1", service_code: "IMADOKO", monthly_fee: "310" }, 2), row({}, 3)];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hiwari-run-"));
  state = join(dir, "state");
  incidentFile = join(dir, "incident.json");
  subsFile = join(dir, "subs.csv");
});

describe("hiwari run (DynamoDB Local, stream, publish-events)", () => {
  it("emits one event per line on the first run, goodwill included, and Refund Run Completed", async () => {
    const { status, report } = await runWith(base, rows, "initial");
    expect(status).toBe(0);
    expect(report.run.counts).toMatchObject({ rows: 3, calculated: 5, adjusted: 0, voided: 0, unchanged: 0 });
    const events = newEvents();
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

  it("emits nothing but the run's completion on an identical rerun", async () => {
    const { report } = await runWith(base, rows, "same again");
    expect(report.run.counts).toMatchObject({ calculated: 0, adjusted: 0, voided: 0, unchanged: 5 });
    expect(newEvents().map((e) => e["detail-type"])).toEqual(["Refund Run Completed"]);
  });

  it("emits only the changed lines, with deltas, when a window is corrected, and voids a removed subscription", async () => {
    // The window now ends on the 21st at 14:00: 2 days instead of 3. C-3 leaves the snapshot.
    const corrected = incidentDoc({
      goodwill,
      suspensions: [{ serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-21T14:00:00+09:00" }],
    });
    const { report } = await runWith(corrected, rows.slice(0, 2), "window corrected");
    expect(report.run.counts).toMatchObject({ adjusted: 2, voided: 2, calculated: 0, unchanged: 1 });
    const events = newEvents().filter((e) => e["detail-type"] !== "Refund Run Completed");
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
    const all = readFileSync(join(state, "events.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Envelope);
    const lines = all.filter((e) => e["detail-type"] !== "Refund Run Completed");
    const sum = lines.reduce((s, e) => s + BigInt(e.detail.delta), 0n);
    expect(sum).toBe(13n + 20n + 200n);
    expect(new Set(all.map((e) => e.detail.eventId)).size).toBe(all.length);
  });

  it("writes nothing in a dry run, yet reports the changes a real run would make", async () => {
    const { report } = await runWith(base, rows, "preview: back to the first window", { dryRun: true });
    expect(report.run.counts).toMatchObject({ calculated: 2, adjusted: 2 });
    expect(newEvents()).toEqual([]);
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
    const again = await runWith(base, rows, "the real thing");
    expect(again.report.run.counts).toMatchObject({ calculated: 2, adjusted: 2 });
  });

  it("refuses a second run of the incident while the first holds the lock", async () => {
    const { openLocalEnvironment } = await import("../../../bin/io/local-environment");
    const env = await openLocalEnvironment(state);
    try {
      await env.store.acquireLock("test-incident", "run-someone-else", 60_000);
    } finally {
      await env.stop();
    }
    await expect(runWith(base, rows, "blocked")).rejects.toThrow(
      /incident test-incident is being run by run-someone-else/,
    );
    const env2 = await openLocalEnvironment(state);
    try {
      expect(await env2.store.breakLock("test-incident")).toBe("run-someone-else");
    } finally {
      await env2.stop();
    }
  });

  it("refuses a rerun whose snapshot has a quote never closed or a row without an id: nothing is voided", async () => {
    newEvents(); // what earlier tests left unread
    writeFileSync(incidentFile, JSON.stringify(base));
    const good = csvOf(rows).trimEnd().split("\n");
    for (const broken of [`C-9,S-9,IMADOKO,"210,JPY,2011-01-01,,,`, ",S-9,IMADOKO,210,JPY,2011-01-01,,,"]) {
      writeFileSync(subsFile, `${[good[0], good[1], broken, good[2], good[3]].join("\n")}\n`);
      await expect(
        run({ incident: incidentFile, subscriptions: subsFile, state, reason: "broken", by: "test", batchSize: "2" }),
      ).rejects.toThrow(
        /a run cannot tell whose stored lines these rows would keep; fix them and run again:\n {2}line 3: /,
      );
    }
    expect(newEvents()).toEqual([]);
  });

  it("lists the incident's runs with who, why and totals (hiwari runs)", async () => {
    const { runs } = await import("../../../bin/commands/finance");
    const out = await capture(process.stdout, () => runs({ incidentId: "test-incident", state, json: true }));
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
    const out = join(dir, "report.csv");
    const stderr = await capture(process.stderr, () => report({ incidentId: "test-incident", state, out }));
    const text = readFileSync(out, "utf8");
    expect(
      text.startsWith(
        "\uFEFFlineId,subscriptionId,subscriberId,serviceCode,periodStart,periodEnd,unit,units,basis,amount,currency,version,runId\r\n",
      ),
    ).toBe(true);
    const rows = text.trim().split("\r\n").slice(1);
    expect(rows).toHaveLength(5); // C-1, C-2, C-3 (back in the snapshot) and the goodwill of S-1 and S-3
    expect(stderr).toMatch(/IMADOKO JPY\s+3 lines\s+70/);
    expect(stderr).toMatch(/goodwill JPY\s+2 lines\s+400/);
    // Where every row of the snapshot behind these lines went (the last run that wrote: "the real thing").
    const accounting =
      /as of run (run-\w+) \(.*\): rows (\d+) = computed (\d+) \+ skipped (\d+) \+ rejected (\d+)/.exec(stderr);
    const [, runId, judged, ...ended] = accounting ?? [];
    const { runs } = await import("../../../bin/commands/finance");
    const listed = JSON.parse(
      await capture(process.stdout, () => runs({ incidentId: "test-incident", state, json: true })),
    );
    expect(runId).toBe(listed.findLast((r: { reason: string }) => r.reason === "the real thing").runId);
    expect(ended.reduce((sum, x) => sum + Number(x), 0)).toBe(Number(judged));
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

describe("hiwari run on a snapshot whose header it cannot use", () => {
  it("refuses it (exit 2) naming the file, the line and the columns, before DynamoDB Local starts or anything is written", {
    timeout: 120_000,
  }, () => {
    // Arrange: a header without most of the contract's columns
    const dir = mkdtempSync(join(tmpdir(), "hiwari-bad-header-"));
    const subs = join(dir, "subs.csv");
    writeFileSync(subs, "subscription_id,subscriber_id\nC-1,S-1\n");
    writeFileSync(join(dir, "incident.json"), JSON.stringify(incidentDoc()));
    const state = join(dir, "state");

    // Act
    const withState = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "bin/hiwari.ts",
        "run",
        "--incident",
        join(dir, "incident.json"),
        "--subscriptions",
        subs,
        "--state",
        state,
      ],
      { encoding: "utf8", env: { ...process.env, NODE_NO_WARNINGS: "1", POWERTOOLS_LOG_LEVEL: "ERROR" } },
    );

    // Assess: the message alone, exit 2; no state folder made
    const message =
      `hiwari: ${subs}: line 1: the header lacks the columns service_code, monthly_fee, currency, active_from, ` +
      "active_to, time_zone, billing_day\n";
    expect([withState.status, withState.stdout, withState.stderr]).toEqual([2, "", message]);
    expect(existsSync(state)).toBe(false);
  });
});
