import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../../bin/commands/run";
import { openLocalEnvironment } from "../../../bin/io/local-environment";
import { CsvRecordReader } from "../../../shared/csv/csv-record-reader";
import { duplicatesOf } from "../../../shared/engine/fast/plain-rows";
import { parseIncident } from "../../../shared/input/incident";
import { readHeader } from "../../../shared/input/subscription-row";
import { computeBatch, recordRows } from "../../../shared/pipeline/compute-batch";
import { prepareRun } from "../../../shared/pipeline/prepare-run";
import { sha256 } from "../../../shared/pipeline/run-context";
import { SHARDS } from "../../../shared/store/refund-store";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { quiet } from "../../helpers/stdout";

describe("a run killed halfway and run again (DynamoDB Local)", () => {
  // Five DynamoDB Local starts in one test: give it room on a loaded 2-core machine.
  it("ends with every line stored once, at version 1, and one event per line: no eventId twice", {
    timeout: 240_000,
  }, async () => {
    // Prepare: 7 subscriptions of 3 subscribers, batches of 2 rows.
    const dir = mkdtempSync(join(tmpdir(), "hiwari-resume-"));
    const state = join(dir, "state");
    const doc = incidentDoc({ goodwill: { amount: 200, currency: "JPY" } });
    const rows = Array.from({ length: 7 }, (_, i) => row({ subscriber_id: `S-${i % 3}` }, i));
    const incidentFile = join(dir, "incident.json");
    const subsFile = join(dir, "subs.csv");
    writeFileSync(incidentFile, JSON.stringify(doc));
    writeFileSync(subsFile, csvOf(rows));

    // Act 1: the first process takes the lock, writes two batches (4 lines), and dies: no finalize, lock kept.
    const incident = parseIncident(doc);
    const records = new CsvRecordReader().push(csvOf(rows));
    const header = readHeader(records[0]?.fields ?? []);
    if (!header.ok) throw new Error(header.reason);
    const env = await openLocalEnvironment(state);
    try {
      const prepared = await prepareRun(
        {
          incident,
          incidentDigest: sha256(readFileSync(incidentFile)),
          snapshotName: subsFile,
          snapshotDigest: sha256(readFileSync(subsFile)),
          requestId: "req-1",
          requestedBy: "test",
          reason: "dies",
          dryRun: false,
          batchSize: 2,
        },
        env.store,
      );
      if (prepared.kind !== "ready") throw new Error("not ready");
      const context = {
        incident,
        runId: prepared.run.runId,
        dryRun: false,
        fresh: prepared.fresh,
        duplicates: duplicatesOf([]),
      };
      await computeBatch(context, 1, header.header, recordRows(records.slice(1, 3)), env.store);
      await computeBatch(context, 2, header.header, recordRows(records.slice(3, 5)), env.store);
    } finally {
      await env.stop();
    }

    // Act 2: the same request with other inputs is refused (it would mix two runs' bookkeeping) …
    const again = (extra: { batchSize?: string; subscriptions?: string }) =>
      quiet(() =>
        run({
          incident: incidentFile,
          subscriptions: subsFile,
          state,
          reason: "again",
          by: "test",
          batchSize: "2",
          requestId: "req-1",
          ...extra,
        }),
      );
    await expect(again({ batchSize: "3" })).rejects.toThrow(/was started with another batch size/);
    const shorter = join(dir, "shorter.csv");
    writeFileSync(shorter, csvOf(rows.slice(0, 6)));
    await expect(again({ subscriptions: shorter })).rejects.toThrow(/was started with another snapshot/);
    // … and the same request resumes the run (its lock), recomputes every batch, finalizes, publishes.
    const status = await again({});

    // Assess: 7 lines + 3 goodwill, each stored once at version 1, each with exactly one event.
    expect(status).toBe(0);
    const check = await openLocalEnvironment(state);
    const stored: { lineId: string; version: number }[] = [];
    try {
      for (let shard = 0; shard < SHARDS; shard++) {
        for await (const page of check.store.linesOfShard("test-incident", shard)) stored.push(...page);
      }
      const runs = await check.store.listRuns("test-incident");
      expect(runs.map((r) => [r.status, r.counts?.rows])).toEqual([["completed", 7]]);
    } finally {
      await check.stop();
    }
    expect(stored).toHaveLength(10);
    expect(new Set(stored.map((l) => l.lineId)).size).toBe(10);
    expect(stored.every((l) => l.version === 1)).toBe(true);
    const events = readFileSync(join(state, "events.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const ids = events.map((e) => e.detail.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(events.filter((e) => e["detail-type"] === "Refund Calculated")).toHaveLength(10);
  });
});
