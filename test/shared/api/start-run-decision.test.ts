import { describe, expect, it } from "vitest";
import {
  type RunToStart,
  type StartFacts,
  type StartRules,
  startRunDecision,
} from "../../../shared/api/start-run-decision";
import { parseIncident } from "../../../shared/input/incident";
import type { RunRecord } from "../../../shared/store/refund-store";
import { incidentDoc } from "../../helpers/factories";

/** runIdOf("inc-1", "req-1"): "run-" and the first 20 hex digits of SHA-256("inc-1\nreq-1"). */
const RUN_ID = "run-79fe794b39ae02dbdca1";
/** SHA-256 of the request's incident text below. */
const INCIDENT_DIGEST = "0d94b351b4bf94d565230804f1426a4faa9faa743600128ffac0dc7ba1c098e4";
const NOW = new Date("2011-12-23T01:02:03.000Z");
const KEY = "snapshots/2011-12/subs.csv";
const RULES: StartRules = { snapshotBucket: "run-bucket" };

const request = (extra: Partial<RunToStart> = {}): RunToStart => ({
  incidentId: "inc-1",
  requestId: "req-1",
  requestedBy: "arn:aws:iam::123456789012:user/finance",
  reason: "mail outage",
  dryRun: false,
  batchSize: 1000,
  incident: parseIncident(incidentDoc({ incidentId: "inc-1" })),
  incidentText: '{"incidentId":"inc-1"}',
  snapshot: { bucket: "run-bucket", key: KEY },
  ...extra,
});

/** The run `request()` records, its snapshot pinned to version "v1". */
const requested = (extra: Partial<RunRecord> = {}): RunRecord => ({
  incidentId: "inc-1",
  runId: RUN_ID,
  requestedBy: "arn:aws:iam::123456789012:user/finance",
  reason: "mail outage",
  dryRun: false,
  status: "requested",
  startedAt: "2011-12-23T01:02:03.000Z",
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  incidentDigest: INCIDENT_DIGEST,
  snapshotDigest: "",
  snapshotName: `s3://run-bucket/${KEY}?versionId=v1`,
  batchSize: 1000,
  ...extra,
});

/** An earlier run of the incident, by another request. */
const other = (extra: Partial<RunRecord> = {}) => requested({ runId: "run-00000000000000000000", ...extra });

const pinnedV1 = { snapshot: { bucket: "run-bucket", key: KEY, versionId: "v1" } };

/** Facts up to the run stored: read (none recorded), pinned to v1, then stored as `run`, created or not. */
const storedFacts = (run: RunRecord, created: boolean, recorded?: RunRecord): StartFacts => ({
  now: NOW,
  recorded: { run: recorded },
  pinned: pinnedV1,
  stored: { run, created },
});

describe("startRunDecision: where the snapshot may be", () => {
  it("refuses (400) a snapshot outside the snapshot bucket, before reading anything", () => {
    // Act
    const decision = startRunDecision(request({ snapshot: { bucket: "elsewhere", key: KEY } }), RULES, { now: NOW });

    // Assess
    expect(decision).toEqual({
      kind: "refused",
      status: 400,
      message: "the request is not valid",
      problems: ["snapshot.bucket: must be run-bucket, the bucket hiwari reads snapshots from"],
    });
  });

  it("refuses (400) a key outside snapshots/ (the run bucket's run files are not snapshots)", () => {
    const decision = startRunDecision(
      request({ snapshot: { bucket: "run-bucket", key: "runs/x/manifest.csv" } }),
      RULES,
      {
        now: NOW,
      },
    );
    expect(decision).toEqual({
      kind: "refused",
      status: 400,
      message: "the request is not valid",
      problems: ["snapshot.key: must start with snapshots/ (where the run bucket keeps snapshots)"],
    });
  });

  it("asks first for the run of the request's run id", () => {
    expect(startRunDecision(request(), RULES, { now: NOW })).toEqual({ kind: "read-run", runId: RUN_ID });
  });
});

describe("startRunDecision: reruns where the stage requires a proposal", () => {
  const prod: StartRules = { ...RULES, requireProposalForReruns: true };

  it("asks for the incident's runs before a new run, and lets a first run through to pinning", () => {
    // Prepare
    const unread: StartFacts = { now: NOW, recorded: { run: undefined } };

    // Act
    const asked = startRunDecision(request(), prod, unread);
    const first = startRunDecision(request(), prod, { ...unread, runs: [] });

    // Assess
    expect(asked).toEqual({ kind: "list-runs" });
    expect(first).toEqual({ kind: "pin", snapshot: { bucket: "run-bucket", key: KEY } });
  });

  it("refuses (409) a new writing run after another writing run, saying to propose and approve", () => {
    const decision = startRunDecision(request(), prod, { now: NOW, recorded: { run: undefined }, runs: [other()] });
    expect(decision).toEqual({
      kind: "refused",
      status: 409,
      message:
        "incident inc-1 has a run that writes lines already (run-00000000000000000000): here a rerun needs four " +
        "eyes. Send it as a dry run (dryRun: true), propose that preview (POST /incidents/inc-1/proposals with its " +
        "previewRunId and a reason), and have another person approve it (POST /incidents/inc-1/proposals/{proposalId}/approve)",
    });
  });

  it("lets a dry run and an approved proposal's run through after a writing run", () => {
    const facts: StartFacts = { now: NOW, recorded: { run: undefined }, runs: [other()] };
    expect(startRunDecision(request({ dryRun: true }), prod, facts)).toMatchObject({ kind: "pin" });
    expect(startRunDecision(request({ proposalId: "prop-1" }), prod, facts)).toMatchObject({ kind: "pin" });
  });

  it("never asks for the runs on a retry (its run recorded): a retry is the same run, not a rerun", () => {
    const decision = startRunDecision(request(), prod, { now: NOW, recorded: { run: requested() } });
    expect(decision).toEqual({ kind: "pin", snapshot: { bucket: "run-bucket", key: KEY, versionId: "v1" } });
  });

  it("does not ask for the runs where the stage does not require a proposal", () => {
    const decision = startRunDecision(request(), RULES, { now: NOW, recorded: { run: undefined } });
    expect(decision).toEqual({ kind: "pin", snapshot: { bucket: "run-bucket", key: KEY } });
  });
});

describe("startRunDecision: which version of the snapshot to pin", () => {
  it("pins the latest version for a new request without a version", () => {
    const decision = startRunDecision(request(), RULES, { now: NOW, recorded: { run: undefined } });
    expect(decision).toEqual({ kind: "pin", snapshot: { bucket: "run-bucket", key: KEY } });
  });

  it("pins the version its run recorded for a retry without a version (not whatever was uploaded since)", () => {
    // Prepare: a version id with characters s3Uri escapes, as S3's may have.
    const recorded = requested({ snapshotName: `s3://run-bucket/${KEY}?versionId=a%2Fb%3Dc` });

    // Act
    const decision = startRunDecision(request(), RULES, { now: NOW, recorded: { run: recorded } });

    // Assess
    expect(decision).toEqual({ kind: "pin", snapshot: { bucket: "run-bucket", key: KEY, versionId: "a/b=c" } });
  });

  it("pins the version asked for, even on a retry whose run recorded another", () => {
    const asked = { bucket: "run-bucket", key: KEY, versionId: "v2" };
    const decision = startRunDecision(request({ snapshot: asked }), RULES, {
      now: NOW,
      recorded: { run: requested() },
    });
    expect(decision).toEqual({ kind: "pin", snapshot: asked });
  });

  it("pins the latest for a retry whose run recorded another object (the retry then differs by its snapshot)", () => {
    const recorded = requested({ snapshotName: "s3://run-bucket/snapshots/other.csv?versionId=v1" });
    const decision = startRunDecision(request(), RULES, { now: NOW, recorded: { run: recorded } });
    expect(decision).toEqual({ kind: "pin", snapshot: { bucket: "run-bucket", key: KEY } });
  });

  it("refuses (400) a snapshot that is not there (or not readable)", () => {
    const decision = startRunDecision(request(), RULES, {
      now: NOW,
      recorded: { run: undefined },
      pinned: { snapshot: undefined },
    });
    expect(decision).toEqual({
      kind: "refused",
      status: 400,
      message: "the request is not valid",
      problems: [`snapshot: s3://run-bucket/${KEY} does not exist (or is not readable)`],
    });
  });
});

describe("startRunDecision: the run to record, and a retried request", () => {
  it("records the run as requested: digest of the incident text, snapshot by version, started now, its proposal", () => {
    // Act
    const plain = startRunDecision(request(), RULES, { now: NOW, recorded: { run: undefined }, pinned: pinnedV1 });
    const approved = startRunDecision(request({ proposalId: "prop-1" }), RULES, {
      now: NOW,
      recorded: { run: undefined },
      pinned: pinnedV1,
    });

    // Assess
    expect(plain).toEqual({ kind: "record", run: requested() });
    expect(approved).toEqual({ kind: "record", run: requested({ proposalId: "prop-1" }) });
  });

  it("starts the run this request created (202)", () => {
    const decision = startRunDecision(request(), RULES, storedFacts(requested(), true));
    expect(decision).toEqual({ kind: "start", run: requested(), created: true, snapshot: pinnedV1.snapshot });
  });

  it("starts again a retry's run with the same inputs, requested or running (200: Step Functions starts nothing new)", () => {
    // Prepare: recorded earlier, by the same principal, with another reason (not an input that must match).
    for (const status of ["requested", "running"] as const) {
      const found = requested({ status, startedAt: "2011-12-22T00:00:00.000Z", reason: "first try" });

      // Act
      const decision = startRunDecision(request(), RULES, storedFacts(found, false, found));

      // Assess: the run as found, not as asked again.
      expect(decision).toEqual({ kind: "start", run: found, created: false, snapshot: pinnedV1.snapshot });
    }
  });

  it("answers a completed run's retry with the run found (200), starting nothing", () => {
    const done = requested({ status: "completed", snapshotDigest: "d" });
    expect(startRunDecision(request(), RULES, storedFacts(done, false, done))).toEqual({ kind: "found", run: done });
  });

  it("refuses (409) a failed run's retry, with its error", () => {
    // Prepare
    const failed = requested({ status: "failed", error: "RunLockedError: incident held" });

    // Act
    const decision = startRunDecision(request(), RULES, storedFacts(failed, false, failed));
    const unknown = startRunDecision(request(), RULES, storedFacts(requested({ status: "failed" }), false));

    // Assess
    expect(decision).toEqual({
      kind: "refused",
      status: 409,
      message:
        `run ${RUN_ID} failed: RunLockedError: incident held. Fix the cause and send a new request id: the new run ` +
        "reconciles with whatever this one stored",
    });
    expect(unknown).toMatchObject({ message: expect.stringContaining(`run ${RUN_ID} failed: unknown error.`) });
  });

  it("refuses (409) the same request id with other inputs, naming the first that differs", () => {
    // Prepare: the run as recorded by the first request, and what differs in the second.
    const cases: [Partial<RunRecord>, string][] = [
      [{ incidentDigest: "f".repeat(64), dryRun: true }, "incident"],
      [{ snapshotName: `s3://run-bucket/${KEY}?versionId=v0`, dryRun: true }, "snapshot"],
      [{ dryRun: true, batchSize: 500 }, "dry-run flag"],
      [{ batchSize: 500 }, "batch size"],
    ];
    for (const [recorded, what] of cases) {
      // Act
      const decision = startRunDecision(request(), RULES, storedFacts(requested(recorded), false));

      // Assess
      expect(decision).toEqual({
        kind: "refused",
        status: 409,
        message: `request req-1 started run ${RUN_ID} with another ${what}; use a new request id`,
      });
    }
  });

  it("refuses (409) a failed run's retry with other inputs for its inputs first", () => {
    const failed = requested({ status: "failed", error: "boom", batchSize: 500 });
    expect(startRunDecision(request(), RULES, storedFacts(failed, false))).toMatchObject({
      status: 409,
      message: `request req-1 started run ${RUN_ID} with another batch size; use a new request id`,
    });
  });
});
