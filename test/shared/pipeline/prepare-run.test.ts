import { describe, expect, it } from "vitest";
import { parseIncident } from "../../../shared/input/incident";
import {
  completeRun,
  differingInput,
  LOCK_LEASE_MS,
  prepareRun,
  type RunRequest,
} from "../../../shared/pipeline/prepare-run";
import { runIdOf } from "../../../shared/pipeline/run-context";
import {
  RequestMismatchError,
  RunLockedError,
  type RunRecord,
  SHARDS,
  ZERO_COUNTS,
} from "../../../shared/store/refund-store";
import { incidentDoc } from "../../helpers/factories";
import { MemoryStore } from "../../helpers/memory-store";

const incident = parseIncident(incidentDoc({ incidentId: "prep" }));
const NOW = new Date("2011-12-24T09:00:00.000Z");

const request = (overrides: Partial<RunRequest> = {}): RunRequest => ({
  incident,
  incidentDigest: "incident-1",
  snapshotName: "subs.csv",
  snapshotDigest: "snapshot-1",
  requestId: "req-1",
  requestedBy: "alice",
  reason: "sp-mode refunds",
  dryRun: false,
  batchSize: 2_000,
  ...overrides,
});
const RUN_ID = runIdOf("prep", "req-1");

/** A run recorded before, as prepareRun records one, with `overrides`. */
const recorded = (overrides: Partial<RunRecord> = {}): RunRecord => ({
  incidentId: "prep",
  runId: RUN_ID,
  requestedBy: "alice",
  reason: "sp-mode refunds",
  dryRun: false,
  status: "running",
  startedAt: "2011-12-23T00:00:00.000Z",
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  incidentDigest: "incident-1",
  snapshotDigest: "snapshot-1",
  snapshotName: "subs.csv",
  batchSize: 2_000,
  ...overrides,
});

describe("differingInput", () => {
  it("names the first input that differs: incident, then snapshot, dry-run flag, batch size; none when the same", () => {
    const run = recorded();
    const same = { incidentDigest: "incident-1", dryRun: false, batchSize: 2_000 };
    expect(differingInput(run, same, true)).toBeUndefined();
    expect(differingInput(run, { ...same, incidentDigest: "x", dryRun: true }, false)).toBe("incident");
    expect(differingInput(run, { ...same, dryRun: true }, false)).toBe("snapshot");
    expect(differingInput(run, { ...same, dryRun: true, batchSize: 1 }, true)).toBe("dry-run flag");
    expect(differingInput(run, { ...same, batchSize: 1 }, true)).toBe("batch size");
  });
});

describe("prepareRun", () => {
  it("starts a new run: takes the lock for the lease, records it running, fresh when nothing ran before", async () => {
    // Prepare
    const store = new MemoryStore();

    // Act
    const prepared = await prepareRun(request(), store, NOW);

    // Assess
    expect(prepared).toEqual({
      kind: "ready",
      fresh: true,
      resumed: false,
      run: recorded({ startedAt: "2011-12-24T09:00:00.000Z" }),
      // Nothing was ever written: every shard holds no line
      stored: new Array(SHARDS).fill(0),
    });
    expect(LOCK_LEASE_MS).toBe(15 * 60 * 1000);
    expect(store.calls).toEqual([`acquireLock prep ${RUN_ID} 900000`, `putRun ${RUN_ID} running`]);
  });

  it("is not fresh once a writing run of the incident was recorded; earlier dry runs leave it fresh", async () => {
    const afterDryRun = new MemoryStore();
    await afterDryRun.putRun(recorded({ runId: "run-dry", dryRun: true, status: "completed" }));
    const afterWrite = new MemoryStore();
    await afterWrite.putRun(recorded({ runId: "run-wrote", status: "failed" }));

    expect(await prepareRun(request(), afterDryRun, NOW)).toMatchObject({ kind: "ready", fresh: true });
    expect(await prepareRun(request(), afterWrite, NOW)).toMatchObject({ kind: "ready", fresh: false });
  });

  it("says how many lines each shard holds when the other runs tell it for sure (storedAtStart), resumed or not", async () => {
    const stored = Array.from({ length: SHARDS }, (_, i) => i);
    const counted = new MemoryStore();
    await counted.putRun(recorded({ runId: "run-1", status: "completed", completedAt: "x", stored }));
    expect(await prepareRun(request(), counted, NOW)).toMatchObject({ kind: "ready", fresh: false, stored });

    // This run's own record does not count: a resumed run knows what the runs before it left
    await counted.putRun(recorded({ status: "interrupted" }));
    expect(await prepareRun(request(), counted, NOW)).toMatchObject({ resumed: true, stored });

    const unsettled = new MemoryStore();
    await unsettled.putRun(recorded({ runId: "run-1", status: "completed", completedAt: "x", stored }));
    await unsettled.putRun(recorded({ runId: "run-2", status: "failed" }));
    expect(await prepareRun(request(), unsettled, NOW)).toMatchObject({ kind: "ready", stored: undefined });
  });

  it("resumes a run of the same request: its start kept, not fresh (it may have written), resumed", async () => {
    const store = new MemoryStore();
    await store.putRun(recorded({ status: "interrupted" }));

    const prepared = await prepareRun(request(), store, NOW);

    expect(prepared).toMatchObject({
      kind: "ready",
      fresh: false,
      resumed: true,
      run: { status: "running", startedAt: "2011-12-23T00:00:00.000Z" },
    });
  });

  it("does not run a completed request again, nor take the lock for it", async () => {
    const store = new MemoryStore();
    const done = recorded({ status: "completed" });
    await store.putRun(done);
    store.calls.length = 0;

    expect(await prepareRun(request(), store, NOW)).toEqual({ kind: "already-completed", run: done });
    expect(store.calls).toEqual([]);
  });

  it("refuses a request id reused with other inputs, naming what differs, before taking the lock", async () => {
    const store = new MemoryStore();
    await store.putRun(recorded());
    store.calls.length = 0;

    await expect(prepareRun(request({ snapshotDigest: "snapshot-2" }), store, NOW)).rejects.toThrow(
      new RequestMismatchError(RUN_ID, "snapshot"),
    );
    await expect(prepareRun(request({ batchSize: 10 }), store, NOW)).rejects.toThrow(
      `run ${RUN_ID} was started with another batch size; a retried request must be the same request (use a new request id)`,
    );
    expect(store.calls).toEqual([]);
  });

  it("starts a run the API recorded as requested (an approved proposal's): not resumed, its proposal kept", async () => {
    // The API recorded it before reading the snapshot: its digest is not yet the snapshot's, and that is no mismatch.
    const store = new MemoryStore();
    await store.putRun(recorded({ status: "requested", snapshotDigest: "", proposalId: "prop-1" }));

    const prepared = await prepareRun(request(), store, NOW);

    expect(prepared).toMatchObject({
      kind: "ready",
      fresh: true,
      resumed: false,
      run: { status: "running", startedAt: "2011-12-24T09:00:00.000Z", proposalId: "prop-1" },
    });
  });

  it("is refused while another run holds the incident's lock, and records nothing", async () => {
    const store = new MemoryStore();
    await store.acquireLock("prep", "run-other", 60_000);

    await expect(prepareRun(request(), store, NOW)).rejects.toThrow(RunLockedError);
    expect(store.runs.size).toBe(0);
  });
});

describe("completeRun", () => {
  const result = { counts: { ...ZERO_COUNTS, rows: 3, computed: 3, calculated: 3 }, totals: [] };

  it("records the run completed with its counts, writes the change that becomes its event, releases the lock", async () => {
    const store = new MemoryStore();
    const { run } = (await prepareRun(request(), store, NOW)) as { run: RunRecord };
    store.calls.length = 0;

    const done = await completeRun(run, result, store, new Date("2011-12-24T09:05:00.000Z"));

    expect(done).toEqual({ ...run, status: "completed", completedAt: "2011-12-24T09:05:00.000Z", ...result });
    expect(store.calls).toEqual([
      `putRun ${RUN_ID} completed`,
      `writeRunCompleted ${RUN_ID}`,
      `releaseLock prep ${RUN_ID}`,
    ]);
    expect(store.lock).toBeUndefined();
  });

  it("records how many lines each shard holds when the run knew it; a dry run, which wrote none, records none", async () => {
    const stored = Array.from({ length: SHARDS }, (_, i) => 2 * i);
    const store = new MemoryStore();
    const { run } = (await prepareRun(request(), store, NOW)) as { run: RunRecord };
    expect(await completeRun(run, { ...result, stored }, store, NOW)).toMatchObject({ stored });
    expect(await store.getRun("prep", RUN_ID)).toMatchObject({ stored });

    const dry = new MemoryStore();
    const preview = (await prepareRun(request({ dryRun: true }), dry, NOW)) as { run: RunRecord };
    expect(await completeRun(preview.run, { ...result, stored }, dry, NOW)).not.toHaveProperty("stored");
  });

  it("emits no event for a dry run", async () => {
    const store = new MemoryStore();
    const { run } = (await prepareRun(request({ dryRun: true }), store, NOW)) as { run: RunRecord };
    store.calls.length = 0;

    await completeRun(run, result, store, NOW);

    expect(store.calls).toEqual([`putRun ${RUN_ID} completed`, `releaseLock prep ${RUN_ID}`]);
  });
});
