import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { compute } from "../../../bin/commands/compute";
import { UsageError } from "../../../bin/usage-error";
import { CompactStringSet, CompactStringSetFullError } from "../../../shared/collections/compact-string-set";
import { MAX_RECORD_BYTES, RECORD_TOO_LONG } from "../../../shared/csv/csv-record-reader";
import { MAX_INCIDENT_BYTES } from "../../../shared/input/incident";
import { computeCli, computeWithFilesUpTo } from "../../helpers/compute-cli";
import { csvOf, incidentDoc, row } from "../../helpers/factories";

// The command as users run it, through tsx so that the test needs no build.
function hiwari(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "bin/hiwari.ts", ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let incident: string;
let subs: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hiwari-compute-"));
  incident = join(dir, "incident.json");
  subs = join(dir, "subs.csv");
  writeFileSync(incident, JSON.stringify(incidentDoc({ goodwill: { amount: 200, currency: "JPY" } })));
  writeFileSync(subs, csvOf([row({}, 1), row({ monthly_fee: "bad" }, 2)]));
});

describe("hiwari compute", () => {
  it("writes the ten fields as JSON lines, rejects to --rejects, and exits 3 when rows were rejected", () => {
    const out = join(dir, "out.jsonl");
    const rejects = join(dir, "rejects.jsonl");
    const r = hiwari("compute", "--incident", incident, "--subscriptions", subs, "--out", out, "--rejects", rejects);
    expect(r.status).toBe(3);
    expect(readFileSync(out, "utf8")).toBe(
      '{"subscriptionId":"C-1","subscriberId":"S-1","serviceCode":"IMADOKO","periodStart":"2011-12-01","periodEnd":"2012-01-01","unit":"day","units":3,"basis":31,"amount":20,"currency":"JPY"}\n' +
        '{"subscriptionId":null,"subscriberId":"S-1","serviceCode":null,"periodStart":null,"periodEnd":null,"unit":"goodwill","units":1,"basis":1,"amount":200,"currency":"JPY"}\n',
    );
    expect(JSON.parse(readFileSync(rejects, "utf8"))).toEqual({
      line: 3,
      subscriptionId: "C-2",
      field: "monthly_fee",
      reason: 'must be a non-negative integer in minor units, digits only without sign or leading zeros (got "bad")',
    });
    expect(r.stderr).toBe(""); // no progress when stderr is not a terminal
  });

  it("writes CSV with a header row and empty cells for null, and exits 0 when every row is accepted", () => {
    writeFileSync(subs, csvOf([row({ subscriber_id: "S, Ltd" }, 1)]));
    const r = hiwari("compute", "--incident", incident, "--subscriptions", subs, "--format", "csv");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      "subscriptionId,subscriberId,serviceCode,periodStart,periodEnd,unit,units,basis,amount,currency\r\n" +
        'C-1,"S, Ltd",IMADOKO,2011-12-01,2012-01-01,day,3,31,20,JPY\r\n' +
        ',"S, Ltd",,,,goodwill,1,1,200,JPY\r\n',
    );
  });

  it("writes to --out in one pass, and starts its file again when an id repeats: the same bytes as to stdout", () => {
    // C-2 twice: both rows rejected; a file is rewound (its CSV header written again), standard output is not.
    writeFileSync(subs, csvOf([row({}, 1), row({}, 2), row({}, 3), row({ subscriber_id: "S-9" }, 2)]));
    const reads = { HIWARI_DEBUG_READS: "1" };
    for (const format of ["jsonl", "csv"]) {
      const out = join(dir, `out.${format}`);
      const common = ["--incident", incident, "--subscriptions", subs, "--format", format];
      const toFile = computeCli(reads, ...common, "--out", out, "--rejects", join(dir, "rejects.jsonl"));
      const toStdout = computeCli(reads, ...common);
      expect(toFile.status).toBe(3);
      expect(toStdout.status).toBe(3);
      expect(readFileSync(out, "utf8")).toBe(toStdout.stdout);
      expect(toStdout.stdout).not.toContain("C-2");
      const rejects = readFileSync(join(dir, "rejects.jsonl"), "utf8");
      expect(`${rejects}hiwari compute: read the snapshot 4 times, lines started again 0 times\n`).toBe(
        toStdout.stderr,
      );
      expect(
        rejects
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).line),
      ).toEqual([3, 5]);
      // The file: lines and ids in one pass, the suspects confirmed, the header again, the lines again. Standard
      // output: the header, the ids, the suspects confirmed, the lines.
      expect(toFile.stderr).toBe("hiwari compute: read the snapshot 4 times, lines started again 1 times\n");
    }
    expect(readFileSync(join(dir, "out.csv"), "utf8").split("\r\n")).toEqual([
      "subscriptionId,subscriberId,serviceCode,periodStart,periodEnd,unit,units,basis,amount,currency",
      "C-1,S-1,IMADOKO,2011-12-01,2012-01-01,day,3,31,20,JPY",
      ",S-1,,,,goodwill,1,1,200,JPY",
      "C-3,S-3,IMADOKO,2011-12-01,2012-01-01,day,3,31,20,JPY",
      ",S-3,,,,goodwill,1,1,200,JPY",
      "",
    ]);
    // Without a repeated id, the file is read once.
    writeFileSync(subs, csvOf([row({}, 1), row({ monthly_fee: "x" }, 2)]));
    const once = computeCli(reads, "--incident", incident, "--subscriptions", subs, "--out", join(dir, "once.jsonl"));
    expect(once.status).toBe(3);
    expect(once.stderr.split("\n").slice(1)).toEqual([
      "hiwari compute: read the snapshot 1 times, lines started again 0 times",
      "",
    ]);
  });

  it("computes in two passes after a write refused in the one pass: duplicates' lines never fill a disk", () => {
    // 3,000 rows, every id twice: all rejected, nothing owed, but the one pass writes 6,000 lines (a line and a goodwill line each, about 1 MB)
    // before it knows. Files limited to 512 KiB: the one pass is refused, the file rewound, the two passes write
    // nothing. Then a snapshot whose lines really pass the limit: the file system's words, exit 1, no file left.
    const half = Array.from({ length: 1500 }, (_, i) => row({}, i));
    writeFileSync(subs, csvOf([...half, ...half]));
    const out = join(dir, "out.jsonl");
    const common = ["--incident", incident, "--subscriptions", subs, "--out", out, "--rejects", join(dir, "r.jsonl")];
    const env = { HIWARI_THREADS: "1", HIWARI_DEBUG_READS: "1" };

    const dupes = computeWithFilesUpTo(512, env, ...common);
    expect(dupes.stderr).toBe("hiwari compute: read the snapshot 5 times, lines started again 1 times\n");
    expect(dupes.status).toBe(3);
    expect(readFileSync(out, "utf8")).toBe("");
    expect(readFileSync(join(dir, "r.jsonl"), "utf8").trim().split("\n")).toHaveLength(3000);

    writeFileSync(subs, csvOf(Array.from({ length: 3000 }, (_, i) => row({}, i))));
    const tooBig = computeWithFilesUpTo(512, env, ...common);
    expect(tooBig).toEqual({ status: 1, stderr: "hiwari: EFBIG: file too large, write\n" });
    // The first run's files stay as they were: the second wrote nothing in their place, and left no temporary file.
    expect(readdirSync(dir).sort()).toEqual(["incident.json", "out.jsonl", "r.jsonl", "subs.csv"]);
    expect(readFileSync(out, "utf8")).toBe("");
  });

  it("writes ids a spreadsheet would run exactly as given in CSV (data, as the contract has it) and says so in --help", () => {
    // Arrange: ids that Excel would run as formulas
    writeFileSync(
      subs,
      csvOf([
        row({ subscription_id: "@C-1", subscriber_id: '=HYPERLINK("http://x","y")' }, 1),
        row({ subscription_id: "-2", subscriber_id: "+1+1" }, 2),
      ]),
    );

    // Act
    const r = hiwari("compute", "--incident", incident, "--subscriptions", subs, "--format", "csv");
    const help = hiwari("compute", "--help");

    // Assess: the values as computed, not neutralised; the help says the CSV is data, not for Excel
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toBe(
      "subscriptionId,subscriberId,serviceCode,periodStart,periodEnd,unit,units,basis,amount,currency\r\n" +
        '@C-1,"=HYPERLINK(""http://x"",""y"")",IMADOKO,2011-12-01,2012-01-01,day,3,31,20,JPY\r\n' +
        ',"=HYPERLINK(""http://x"",""y"")",,,,goodwill,1,1,200,JPY\r\n' +
        "-2,+1+1,IMADOKO,2011-12-01,2012-01-01,day,3,31,20,JPY\r\n" +
        ",+1+1,,,,goodwill,1,1,200,JPY\r\n",
    );
    expect(help.status).toBe(0);
    expect(help.stdout).toContain(
      "\nOutput: data for programs, exact: JSON lines, or with --format csv the contract's ten columns (RFC 4180, CRLF,\n" +
        "a header row, null as an empty cell), every value as computed and every id as the snapshot gives it. An id such as\n" +
        "=HYPERLINK(...) or +1+1 is written as it is: a spreadsheet would run it as a formula, so do not open this CSV in\n" +
        "Excel. For people, hiwari report writes the stored lines as CSV that is safe to open.\n\n" +
        "Exit status: 0 all rows accepted;",
    );
  });

  it("exits 2 with the field named and neither creates nor changes --out for a bad incident", () => {
    writeFileSync(incident, JSON.stringify(incidentDoc({ policy: { dayBasis: "30" as never } })));
    const fresh = join(dir, "fresh.jsonl");
    const kept = join(dir, "kept.jsonl");
    writeFileSync(kept, "before\n");
    for (const out of [fresh, kept]) {
      const r = hiwari("compute", "--incident", incident, "--subscriptions", subs, "--out", out);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`hiwari: ${incident}: policy.dayBasis: must be the string "actual" or the number 30\n`);
    }
    expect(existsSync(fresh)).toBe(false);
    expect(readFileSync(kept, "utf8")).toBe("before\n");
  });

  it("exits 2 without a stack trace for an unusable header, a missing file or a missing option", () => {
    writeFileSync(subs, "a,b\n1,2\n");
    const out = join(dir, "out.jsonl");
    const header = hiwari("compute", "--incident", incident, "--subscriptions", subs, "--out", out);
    expect(header.status).toBe(2);
    expect(header.stderr).toMatch(/line 1: the header lacks the columns subscription_id, subscriber_id/);
    expect(existsSync(out)).toBe(false);
    const missing = hiwari("compute", "--incident", join(dir, "nope.json"), "--subscriptions", subs);
    expect(missing).toMatchObject({
      status: 2,
      stderr: `hiwari: ${join(dir, "nope.json")}: cannot read the incident: ENOENT\n`,
    });
    const option = hiwari("compute", "--incident", incident);
    expect(option.status).toBe(2);
    expect(option.stderr).toMatch(/required option '--subscriptions <file>' not specified/);
    for (const r of [header, missing, option]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("exits 2 naming the where's path and the column for a header without it, or with it twice, writing nothing", () => {
    // Prepare: goodwill only for rows whose "plan" is "a" (contract v2).
    writeFileSync(
      incident,
      JSON.stringify(incidentDoc({ goodwill: { amount: 200, currency: "JPY", where: { plan: ["a"] } } as never })),
    );
    const out = join(dir, "out.jsonl");
    const header =
      "subscription_id,subscriber_id,service_code,monthly_fee,currency,active_from,active_to,time_zone,billing_day";
    for (const [csv, why] of [
      [`${header}\nC-1,S-1,IMADOKO,210,JPY,2011-01-01,,,\n`, 'goodwill.where.plan: the header has no column "plan"'],
      [
        `${header},plan,plan\nC-1,S-1,IMADOKO,210,JPY,2011-01-01,,,,a,a\n`,
        'goodwill.where.plan: the column "plan" appears more than once in the header',
      ],
    ]) {
      writeFileSync(subs, csv as string);
      for (const engine of ["fast", "reference", "plain"]) {
        // Act
        const r = hiwari("compute", "--incident", incident, "--subscriptions", subs, "--out", out, "--engine", engine);
        // Assess
        expect(r.status).toBe(2);
        expect(r.stderr).toBe(`hiwari: ${subs}: line 1: ${why}\n`);
        expect(existsSync(out)).toBe(false);
      }
    }
    writeFileSync(
      subs,
      `${header},plan\nC-1,S-1,IMADOKO,210,JPY,2011-01-01,,,,a\nC-2,S-2,IMADOKO,210,JPY,2011-01-01,,,,b\n`,
    );
    const r = hiwari("compute", "--incident", incident, "--subscriptions", subs);
    expect(r.status).toBe(0);
    expect(r.stdout.split("\n").filter((l) => l.includes('"goodwill"'))).toHaveLength(1);
  });

  it("exits 2 naming the option when --out cannot be written, or names the same file as --rejects, leaving no file", () => {
    const rejects = join(dir, "rejects.jsonl");
    const blocked = join(subs, "out.jsonl"); // a file is not a folder
    const r = hiwari(
      "compute",
      "--incident",
      incident,
      "--subscriptions",
      subs,
      "--out",
      blocked,
      "--rejects",
      rejects,
    );
    expect([r.status, r.stderr]).toEqual([
      2,
      expect.stringMatching(
        `^hiwari: --out ${blocked}: cannot write there: a part of its path is a file, not a folder \\(EEXIST\\)\n$`,
      ),
    ]);
    const same = hiwari(
      "compute",
      "--incident",
      incident,
      "--subscriptions",
      subs,
      "--out",
      rejects,
      "--rejects",
      rejects,
    );
    expect(same.status).toBe(2);
    expect(same.stderr).toContain("--out and --rejects name the same file");
    const other = hiwari(
      "compute",
      "--incident",
      incident,
      "--subscriptions",
      subs,
      "--out",
      rejects,
      "--rejects",
      blocked,
    );
    expect([other.status, other.stderr]).toEqual([
      2,
      expect.stringMatching(
        `^hiwari: --rejects ${blocked}: cannot write there: a part of its path is a file, not a folder \\(EEXIST\\)\n$`,
      ),
    ]);
    expect(readdirSync(dir).sort()).toEqual(["incident.json", "subs.csv"]); // no target, no temporary file
  });

  it("stops quietly with status 141 when the reader of its output goes away (| head)", () => {
    writeFileSync(subs, csvOf(Array.from({ length: 20_000 }, (_, i) => row({}, i))));
    const r = spawnSync(
      "bash",
      [
        "-c",
        `"${process.execPath}" --import tsx bin/hiwari.ts compute --incident "$1" --subscriptions "$2" | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`,
        "-",
        incident,
        subs,
      ],
      { encoding: "utf8" },
    );
    expect(r.stdout.trim()).toBe("141");
    expect(r.stderr).toBe("");
  });

  it("prints help with examples", () => {
    const r = hiwari("compute", "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Exit status: 0 all rows accepted; 3 some rows rejected/);
    expect(r.stdout).toMatch(/Examples:/);
  });
});

describe("hiwari compute at its size limits", () => {
  const TOO_LARGE = "the file is larger than 1 MiB (1,048,576 bytes), the most an incident may hold";

  it("exits 2 naming the file and the limit for an incident over 1 MiB, from a file or a pipe, writing nothing", () => {
    const padded = JSON.stringify(incidentDoc()) + " ".repeat(MAX_INCIDENT_BYTES);
    writeFileSync(incident, padded);
    const out = join(dir, "out.jsonl");
    const file = hiwari("compute", "--incident", incident, "--subscriptions", subs, "--out", out);
    expect(file).toMatchObject({ status: 2, stdout: "", stderr: `hiwari: ${incident}: ${TOO_LARGE}\n` });
    // A pipe has no size to look at first: it is read up to the limit and no further.
    const pipe = spawnSync(
      "bash",
      [
        "-c",
        `cat "$1" 2>/dev/null | "${process.execPath}" --import tsx bin/hiwari.ts compute --incident /dev/stdin --subscriptions "$2" --out "$3"`,
        "-",
        incident,
        subs,
        out,
      ],
      { encoding: "utf8" },
    );
    expect(pipe).toMatchObject({ status: 2, stdout: "", stderr: `hiwari: /dev/stdin: ${TOO_LARGE}\n` });
    expect(existsSync(out)).toBe(false);
  });

  it("exits 3 for a row over the limit, rejected at its line, and computes the rows after it, in either engine", () => {
    const long = row({ subscriber_id: "S".repeat(MAX_RECORD_BYTES) }, 2);
    writeFileSync(subs, csvOf([row({}, 1), long, row({}, 3)]));
    for (const engine of ["fast", "reference"]) {
      const rejects = join(dir, `rejects-${engine}.jsonl`);
      const r = hiwari(
        "compute",
        "--incident",
        incident,
        "--subscriptions",
        subs,
        "--rejects",
        rejects,
        "--engine",
        engine,
      );
      expect(r.status).toBe(3);
      expect(JSON.parse(readFileSync(rejects, "utf8"))).toEqual({
        line: 3,
        subscriptionId: "C-2",
        field: null,
        reason: RECORD_TOO_LONG,
      });
      expect(r.stdout.match(/"subscriptionId":"C-\d"/g)).toEqual(['"subscriptionId":"C-1"', '"subscriptionId":"C-3"']);
      expect(r.stderr).toBe("");
    }
  });
});

describe("hiwari compute past the ids one run can remember", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each(["fast", "reference"] as const)(
    "refuses with a UsageError naming the file (exit 2, no stack trace) when a set of ids is full, writing nothing (%s engine)",
    async (engine) => {
      // Prepare: every compact set full from the start (a real one is full at 4 GiB of ids): the reference engine
      // meets it with the first id it remembers, the fast one with the first subscriber credited with goodwill.
      vi.spyOn(CompactStringSet.prototype, "addBytes").mockImplementation(() => {
        throw new CompactStringSetFullError(107_372_544, 4_294_901_760, 4_294_901_760, 40);
      });
      const out = join(dir, "out.jsonl");
      const rejects = join(dir, "rejects.jsonl");

      // Act
      const error = await compute({ incident, subscriptions: subs, format: "jsonl", out, rejects, engine }).catch(
        (e) => e,
      );

      // Assess
      expect(error).toBeInstanceOf(UsageError);
      expect(error.message).toBe(
        `${subs}: too many distinct ids for one run to remember: a CompactStringSet of 107,372,544 strings (4,294,901,760 of its 4,294,901,760 bytes) cannot hold more: the next needs 40 bytes`,
      );
      expect(existsSync(out)).toBe(false);
      expect(existsSync(rejects)).toBe(false);
    },
  );
});

describe("hiwari compute on raw bytes", () => {
  it("rejects a row holding bytes that are not UTF-8, naming the field, and computes the rest", () => {
    const csv = Buffer.concat([
      Buffer.from(csvOf([row({}, 1)])),
      Buffer.from("C-2,S\xff2,IMADOKO,210,JPY,2011-01-01,,,\n", "latin1"),
    ]);
    writeFileSync(subs, csv);
    const rejects = join(dir, "rejects.jsonl");
    const r = hiwari("compute", "--incident", incident, "--subscriptions", subs, "--rejects", rejects);
    expect(r.status).toBe(3);
    expect(JSON.parse(readFileSync(rejects, "utf8"))).toEqual({
      line: 3,
      subscriptionId: "C-2",
      field: "subscriber_id",
      reason: "is not valid UTF-8",
    });
    expect(r.stdout).toMatch(/"subscriptionId":"C-1"/);
  });

  it("drops one byte-order mark only: a second one belongs to the first column's name", () => {
    writeFileSync(subs, `\uFEFF\uFEFF${csvOf([row({}, 1)])}`);
    const r = hiwari("compute", "--incident", incident, "--subscriptions", subs);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/the header lacks the column subscription_id/);
  });
});
