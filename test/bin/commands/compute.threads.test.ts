import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startWorkers, workerCount } from "../../../bin/commands/compute-threads";
import { CompactStringSetFullError } from "../../../shared/collections/compact-string-set";
import type { RangeSetup } from "../../../shared/engine/fast/fast-engine";
import { UnusableSnapshotError } from "../../../shared/engine/snapshot-header";
import { parseIncident } from "../../../shared/input/incident";
import { computeCli, computeWithFilesUpTo } from "../../helpers/compute-cli";
import { csvOf, incidentDoc, row } from "../../helpers/factories";

/** `hiwari compute` as users run it (see test/helpers/compute-cli.ts): its status and stderr. */
function compute(env: Record<string, string>, ...args: string[]) {
  const { status, stderr } = computeCli(env, ...args);
  return { status, stderr };
}

/** How many ranges the worker threads computed, from the line HIWARI_DEBUG_THREADS asks for (0 when none). */
const rangesIn = (stderr: string) =>
  Number(/^hiwari compute: (\d+) ranges on 2 worker threads$/m.exec(stderr)?.[1] ?? 0);

/** The scripted stand-in for the worker (see test/helpers/scripted-compute-worker.ts). */
const SCRIPTED = new URL("../../helpers/scripted-compute-worker.ts", import.meta.url);
const SETUP: RangeSetup = { header: { fields: [], line: 1 } as unknown as RangeSetup["header"], duplicateIds: [] };

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
    const threaded = run("threaded", { HIWARI_THREADS: "2", HIWARI_RANGE_BYTES: "1024", HIWARI_DEBUG_THREADS: "1" });
    const ranges = rangesIn(threaded.summary);
    threaded.summary = threaded.summary.replace(/^hiwari compute: .* worker threads\n/m, "");

    // Assess: the workers computed it, in many ranges (not one thread after all), the same lines
    expect(ranges).toBeGreaterThan(10);
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

  it("uses a worker per core for a large snapshot, up to 8, and none on one core (one thread, no worker)", () => {
    expect(workerCount(1 << 30, {}, 1)).toBe(0);
    expect(workerCount(1 << 30, {}, 2)).toBe(2);
    expect(workerCount(1 << 30, {}, 64)).toBe(8);
  });

  it("ends with the file system's words, the same status and no temporary file when a write fails while ranges are joined", () => {
    // Prepare: 20,000 rows (about 6 MB of lines) and files limited to 1 MiB: the write fails during the join
    const dir = mkdtempSync(join(tmpdir(), "hiwari-threads-full-"));
    const incident = join(dir, "incident.json");
    const subs = join(dir, "subs.csv");
    writeFileSync(incident, JSON.stringify(incidentDoc({ goodwill: { amount: 200, currency: "JPY" } })));
    writeFileSync(subs, csvOf(Array.from({ length: 20_000 }, (_, i) => row({ subscriber_id: `S-${i % 300}` }, i))));
    const args = ["--incident", incident, "--subscriptions", subs, "--out", join(dir, "out.jsonl")];
    const args2 = [...args, "--rejects", join(dir, "rejects.jsonl")];

    // Act
    const one = computeWithFilesUpTo(1024, { HIWARI_THREADS: "1" }, ...args2);
    const threaded = computeWithFilesUpTo(
      1024,
      { HIWARI_THREADS: "2", HIWARI_RANGE_BYTES: "16384", HIWARI_DEBUG_THREADS: "1" },
      ...args2,
    );

    // Assess: as on one thread, a clean message (no stack trace), exit 1, nothing left beside the inputs
    expect(one).toEqual({ status: 1, stderr: "hiwari: EFBIG: file too large, write\n" });
    expect(threaded).toEqual(one);
    expect(readdirSync(dir).sort()).toEqual(["incident.json", "subs.csv"]);
  });

  it("rebuilds a worker's error as its own class (a full set of ids, an unusable snapshot), a system error with its code", async () => {
    // Prepare
    const workers = startWorkers(1, "subs.csv", "jsonl", SCRIPTED);
    try {
      const [runner] = workers.runners(parseIncident(incidentDoc()));
      const worker = runner as NonNullable<typeof runner>;

      // Act
      const ids = await worker.ids({ start: 0, end: 10, column: 0, width: 1, rangeBytes: 10 }).catch((e) => e);
      const lines: string[] = [];
      const first = await worker.run(SETUP, { start: 0, end: 10 }, (o) =>
        lines.push(new TextDecoder().decode(o.bytes)),
      );
      const second = await worker.run(SETUP, { start: 1, end: 10 }, () => {}).catch((e) => e);
      const third = await worker.run(SETUP, { start: 2, end: 10 }, () => {}).catch((e) => e);

      // Assess: the command names the first two for people (exit 2), the third in the system's words (exit 1)
      expect(ids).toBeInstanceOf(UnusableSnapshotError);
      expect(ids.message).toBe("subs.csv: line 1: the header lacks subscription_id");
      expect(lines).toEqual(["a line\n"]);
      expect(first.counts.rows).toBe(1);
      expect(second).toBeInstanceOf(CompactStringSetFullError);
      expect(second).toMatchObject({ name: "CompactStringSetFullError", entries: 107_372_544, needed: 40 });
      expect(second.message).toBe(new CompactStringSetFullError(107_372_544, 4_294_901_760, 4_294_901_760, 40).message);
      expect(third).toBeInstanceOf(Error);
      expect(third).toMatchObject({ code: "ENOENT", syscall: "open" });
      expect(workers.ranges()).toBe(3);
    } finally {
      await workers.close();
    }
  });

  it("fails the range whose buffer cannot be written with that error, not as an uncaught exception", async () => {
    // Prepare
    const workers = startWorkers(1, "subs.csv", "jsonl", SCRIPTED);
    try {
      const [runner] = workers.runners(parseIncident(incidentDoc()));
      const full = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });

      // Act
      const error = await (runner as NonNullable<typeof runner>)
        .run(SETUP, { start: 0, end: 10 }, () => {
          throw full;
        })
        .catch((e) => e);
      const next = await (runner as NonNullable<typeof runner>)
        .run(SETUP, { start: 0, end: 10 }, () => {})
        .catch((e) => e);

      // Assess: that error, and the worker, its messages for that range unread, is asked nothing more
      expect(error).toBe(full);
      expect(next).toBe(full);
    } finally {
      await workers.close();
    }
  });
});
