import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { idKey, reportSummary } from "../../../bin/commands/finance";
import { run as runCommand } from "../../../bin/commands/run";
import { totalRow } from "../../../bin/format";
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

const totals = [
  { serviceCode: "IMADOKO", currency: "JPY", lines: 1234, amount: 24_680n },
  { serviceCode: null, currency: "JPY", lines: 2, amount: 400n },
];

describe("reportSummary (what hiwari report prints after the lines)", () => {
  it("names the last completed run that wrote, with where its rows went, and lays out totals as hiwari run does", () => {
    // Arrange
    const runs = [
      run("run-a", "completed", "2011-12-23T00:00:00Z"),
      run("run-b", "completed", "2011-12-24T00:00:00Z"),
      run("run-c", "completed", "2011-12-25T00:00:00Z", { dryRun: true }),
    ];

    // Act
    const text = reportSummary("inc", totals, runs, "/s", "books.csv");

    // Assess
    expect(text).toBe(
      "report of incident inc: 1,236 standing lines, written to books.csv\n" +
        "  as of run run-b (2011-12-24T01:00:00Z, subs.csv): rows 10 = computed 6 + skipped 3 + rejected 1\n" +
        "  owed now, per service and currency:\n" +
        "    IMADOKO      JPY       1,234 lines          24,680\n" +
        "    goodwill     JPY           2 lines             400\n" +
        "  rejected rows: 1, in /s/runs/run-b/rejects.jsonl\n",
    );
    expect(text.split("\n").slice(3, 5)).toEqual(totals.map((t) => `    ${totalRow(t)}`));
  });

  it("says so when a later run failed or is still running: it may have changed lines", () => {
    // Arrange
    const runs = [
      run("run-a", "completed", "2011-12-23T00:00:00Z", {
        counts: { rows: 3, computed: 3, skipped: 0, rejected: 0, calculated: 3, adjusted: 0, voided: 0, unchanged: 0 },
      }),
      run("run-b", "failed", "2011-12-24T00:00:00Z"),
      run("run-c", "running", "2011-12-25T00:00:00Z"),
    ];

    // Act
    const text = reportSummary("inc", totals.slice(1), runs, "/s");

    // Assess
    expect(text).toBe(
      "report of incident inc: 2 standing lines\n" +
        "  as of run run-a (2011-12-23T01:00:00Z, subs.csv): rows 3 = computed 3 + skipped 0 + rejected 0\n" +
        "  owed now, per service and currency:\n" +
        "    goodwill     JPY           2 lines             400\n" +
        "  note: run run-b (failed, started 2011-12-24T00:00:00Z) came after it and may have changed lines; run the incident again to settle them\n" +
        "  note: run run-c (running, started 2011-12-25T00:00:00Z) came after it and may have changed lines; run the incident again to settle them\n",
    );
  });
});

describe("idKey (the exact key beside each id of the report)", () => {
  it("percent-encodes the id so that no key starts as a formula, and decodes back to the id exactly", () => {
    // Arrange
    const ids = ['=HYPERLINK("http://x","y")', "+1+1", "-5", "@SUM(A1)", "\tx", "\rx", "'+1+1", "S-0001", "日割り"];

    // Act
    const keys = ids.map(idKey);

    // Assess
    expect(keys).toEqual([
      "%3DHYPERLINK(%22http%3A%2F%2Fx%22%2C%22y%22)",
      "%2B1%2B1",
      "%2D5",
      "%40SUM(A1)",
      "%09x",
      "%0Dx",
      "'%2B1%2B1",
      "S-0001",
      "%E6%97%A5%E5%89%B2%E3%82%8A",
    ]);
    expect(keys.map((k) => decodeURIComponent(k as string))).toEqual(ids);
    expect(keys.filter((k) => /^[=+\-@\t\r]/.test(k as string))).toEqual([]);
    expect(idKey(null)).toBeNull();
  });
});

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

describe("hiwari report on ids a spreadsheet would run", () => {
  it("neutralises them, puts each id's exact key beside it, and prints its totals as hiwari run does (exit 0)", {
    timeout: 480_000, // two starts of DynamoDB Local, on a machine that may be busy
  }, () => {
    // Arrange: a state folder of its own; ids that Excel would run as formulas, and one rejected row
    const dir = mkdtempSync(join(tmpdir(), "hiwari-report-formula-"));
    const state = join(dir, "state");
    const incident = join(dir, "incident.json");
    const subs = join(dir, "subs.csv");
    writeFileSync(
      incident,
      JSON.stringify(incidentDoc({ incidentId: "fin-formula", goodwill: { amount: 200, currency: "JPY" } })),
    );
    const hyperlink = '=HYPERLINK("http://x","y")';
    writeFileSync(
      subs,
      csvOf([
        row({ subscription_id: "@C-1", subscriber_id: hyperlink }),
        row({ subscription_id: "C-2", subscriber_id: "+1+1" }),
        row({ subscription_id: "-3", subscriber_id: "-3" }),
        row({ subscription_id: "C-4", subscriber_id: "S-4", monthly_fee: "bad" }),
      ]),
    );
    const ran = hiwari("run", "--incident", incident, "--subscriptions", subs, "--state", state, "--by", "t");
    expect(ran.status).toBe(3); // the row with a bad fee is rejected
    const out = join(dir, "books.csv");

    // Act
    const reported = hiwari("report", "--incident-id", "fin-formula", "--state", state, "--out", out);

    // Assess: exit 0; the summary exactly (the run's end time aside), its totals laid out as the run printed them
    const runId = /^run (run-[0-9a-f]+) of incident fin-formula: completed\n/.exec(ran.stdout)?.[1] as string;
    const endedAt = new RegExp(
      `^( {2}as of run ${runId}) \\(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z, `,
      "m",
    );
    const totalsBlock = [
      "  owed now, per service and currency:",
      "    IMADOKO      JPY           3 lines              60",
      "    goodwill     JPY           3 lines             600",
      `  rejected rows: 1, in ${join(state, "runs", runId, "rejects.jsonl")}`,
    ];
    expect([reported.status, reported.stdout, reported.stderr.replace(endedAt, "$1 (<ended at>, ")]).toEqual([
      0,
      "",
      [
        `report of incident fin-formula: 6 standing lines, written to ${out}`,
        `  as of run ${runId} (<ended at>, ${subs}): rows 4 = computed 3 + skipped 0 + rejected 1`,
        ...totalsBlock,
        "",
      ].join("\n"),
    ]);
    const runLines = ran.stdout.split("\n");
    const from = runLines.indexOf(totalsBlock[0] as string);
    expect(runLines.slice(from, from + totalsBlock.length)).toEqual(totalsBlock);
    // The CSV: a neutralised id, then its key; lineId as the events have it
    const [header, ...rows] = readFileSync(out, "utf8").split("\r\n");
    expect(header).toBe(
      "\uFEFFlineId,subscriptionId,subscriptionKey,subscriberId,subscriberKey,serviceCode,periodStart,periodEnd,unit,units,basis,amount,currency,version,runId",
    );
    expect(rows.sort()).toEqual(
      [
        "",
        `fin-formula#S#%40C-1#2011-12-01,'@C-1,%40C-1,"'=HYPERLINK(""http://x"",""y"")",%3DHYPERLINK(%22http%3A%2F%2Fx%22%2C%22y%22),IMADOKO,2011-12-01,2012-01-01,day,3,31,20,JPY,1,${runId}`,
        `fin-formula#S#C-2#2011-12-01,C-2,C-2,'+1+1,%2B1%2B1,IMADOKO,2011-12-01,2012-01-01,day,3,31,20,JPY,1,${runId}`,
        `fin-formula#S#-3#2011-12-01,'-3,%2D3,'-3,%2D3,IMADOKO,2011-12-01,2012-01-01,day,3,31,20,JPY,1,${runId}`,
        `fin-formula#G#%3DHYPERLINK(%22http%3A%2F%2Fx%22%2C%22y%22),,,"'=HYPERLINK(""http://x"",""y"")",%3DHYPERLINK(%22http%3A%2F%2Fx%22%2C%22y%22),,,,goodwill,1,1,200,JPY,1,${runId}`,
        `fin-formula#G#%2B1%2B1,,,'+1+1,%2B1%2B1,,,,goodwill,1,1,200,JPY,1,${runId}`,
        `fin-formula#G#-3,,,'-3,%2D3,,,,goodwill,1,1,200,JPY,1,${runId}`,
      ].sort(),
    );
  });
});

describe("help of runs, report, unlock and api-runs", () => {
  it("gives each command's exit statuses and examples, and says what the report's CSV is safe for", {
    timeout: 120_000,
  }, () => {
    // Act
    const help = Object.fromEntries(
      ["runs", "report", "unlock", "api-runs"].map((command) => [command, hiwari(command, "--help")]),
    );

    // Assess: exit 0, and the text after the options exactly
    const tail = (command: string) => {
      const { status, stdout } = help[command] as { status: number; stdout: string };
      const options = "display help for command\n";
      return [status, stdout.slice(stdout.indexOf(options) + options.length)];
    };
    const readStatus =
      "Exit status: 0 done; 2 unusable arguments, or no such incident in the state folder (the ones there are listed);\n" +
      "1 failed (DynamoDB Local, the disk, a damaged state file: named, with how to recover).\n";
    expect(tail("runs")).toEqual([
      0,
      `\n${readStatus}\nExamples:\n` +
        "  hiwari runs --incident-id SPMODE-2011-12\n" +
        "  hiwari runs --incident-id SPMODE-2011-12 --state /data/hiwari --json\n",
    ]);
    expect(tail("report")).toEqual([
      0,
      "\n" +
        "Output: for people, safe to open in Excel (UTF-8 with a byte-order mark, CRLF). A cell that a spreadsheet would\n" +
        "run as a formula (it starts with = + - @, a tab or a carriage return) is written with ' before it, so an id shown\n" +
        "there may differ from the events' id. To join on an id, use the key after it: subscriptionKey, subscriberKey (the\n" +
        "id percent-encoded as in lineId, a leading - as %2D; decodeURIComponent gives the id exactly); to join on a line,\n" +
        'lineId (the events\' lineId; their eventId is lineId#version). Columns: docs/operations.md, "The report".\n' +
        "Data for programs, exact: the events, or hiwari compute (its CSV is not for Excel).\n\n" +
        `${readStatus}\nExamples:\n` +
        "  hiwari report --incident-id SPMODE-2011-12 --out spmode-2011-12.csv\n",
    ]);
    expect(tail("unlock")).toEqual([
      0,
      "\n" +
        "Exit status: 0 released (the run is marked abandoned) or nothing was locked; 2 unusable arguments; 1 failed (the\n" +
        "state folder is in use by a hiwari process: stop it first).\n\n" +
        "Example:\n" +
        "  hiwari unlock --incident-id SPMODE-2011-12\n",
    ]);
    expect(tail("api-runs")).toEqual([
      0,
      "\n" +
        "Credentials: the standard AWS chain (AWS_PROFILE after `aws sso login`, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ...).\n\n" +
        "Exit status: 0 listed (or the run shown); 2 unusable arguments, or refused by the API as it stands (400, 404: no\n" +
        "such run); 1 not done: access refused (403), the API failed or could not be reached (retry).\n\n" +
        "Examples:\n" +
        "  hiwari api-runs --api https://abc123.execute-api.ap-northeast-1.amazonaws.com/prod --incident-id SPMODE-2011-12\n" +
        "  hiwari api-runs --api $HIWARI_API --incident-id SPMODE-2011-12 --run-id run-0123456789abcdef0123 --json\n",
    ]);
  });
});

describe("hiwari runs and report on an incident the state folder does not have", () => {
  it("refuses a mistyped id (exit 2) listing the incidents there are; says whose a file path is; takes the old --incident with a notice", {
    timeout: 480_000, // a run and three starts of DynamoDB Local, on a machine that may be busy
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
