import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { workerCount } from "../../../bin/commands/compute-threads";
import { csvOf, incidentDoc, row } from "../../helpers/factories";

/** `hiwari compute` as users run it (through tsx: its workers inherit tsx and load the worker's source). */
function compute(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "bin/hiwari.ts", "compute", ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { status: r.status, stderr: r.stderr };
}

describe("hiwari compute on worker threads", () => {
  it("writes the same lines, rejects and summary as on one thread: goodwill, duplicates, bad rows, a quote late on", () => {
    // Prepare: 300 rows over many ranges of 1 KB; subscribers holding several rows across ranges (goodwill decided
    // in order), a duplicate id far apart, bad fees, rows ending in the window, and a quoted field near the end (the
    // ranges stop before it).
    const dir = mkdtempSync(join(tmpdir(), "hiwari-threads-"));
    const incident = join(dir, "incident.json");
    const subs = join(dir, "subs.csv");
    writeFileSync(incident, JSON.stringify(incidentDoc({ goodwill: { amount: 200, currency: "JPY" } })));
    const rows = Array.from({ length: 300 }, (_, i) =>
      row(
        {
          subscriber_id: `S-${i % 37}`,
          monthly_fee: i % 41 === 0 ? "bad" : String(100 + i),
          active_to: i % 7 === 0 ? "2011-12-21T12:00:00+09:00" : "",
        },
        i === 250 ? 3 : i,
      ),
    );
    rows.splice(280, 0, row({ subscriber_id: 'S-"quoted", late' }, 1000));
    writeFileSync(subs, csvOf(rows));
    const run = (name: string, env: Record<string, string>) => {
      const out = join(dir, `${name}.jsonl`);
      const rejects = join(dir, `${name}-rejects.jsonl`);
      const r = compute(
        env,
        "--incident",
        incident,
        "--subscriptions",
        subs,
        "--out",
        out,
        "--rejects",
        rejects,
        "--summary",
      );
      const summary = r.stderr.replaceAll(name, "NAME"); // it names the files written
      return { status: r.status, summary, out: readFileSync(out, "utf8"), rejects: readFileSync(rejects, "utf8") };
    };

    // Act
    const one = run("one", { HIWARI_THREADS: "1" });
    const threaded = run("threaded", { HIWARI_THREADS: "2", HIWARI_RANGE_BYTES: "1024" });

    // Assess
    expect(one.status).toBe(3);
    expect(one.out.split("\n").length).toBeGreaterThan(300);
    expect(one.rejects.split("\n").length).toBeGreaterThan(8);
    expect(one.summary).toContain("goodwill");
    expect(threaded).toEqual(one);
  });

  it("uses one thread for a small snapshot, and as many as HIWARI_THREADS asks (0 and 1: one)", () => {
    expect(workerCount(1 << 20, {})).toBe(0);
    expect(workerCount(1 << 20, { HIWARI_THREADS: "3" })).toBe(3);
    expect(workerCount(1 << 30, { HIWARI_THREADS: "1" })).toBe(0);
    expect(workerCount(1 << 30, { HIWARI_THREADS: "0" })).toBe(0);
  });
});
