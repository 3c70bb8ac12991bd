import { describe, expect, it } from "vitest";
import {
  appliedDifferences,
  approvalRefusal,
  approveProposal,
  approverRefusal,
  baseRunOf,
  differencesFrom,
  failApproved,
  markApproved,
  type Proposal,
  ProposalNotReproducedError,
  ProposalRefusedError,
  type ProposalState,
  type ProposalStore,
  previewStanding,
  proposalOf,
  proposalOfPreview,
  settleProposalRun,
} from "../../../shared/pipeline/proposal";
import { runIdOf } from "../../../shared/pipeline/run-context";
import type { RunRecord } from "../../../shared/store/refund-store";

const COUNTS = { rows: 10, computed: 8, skipped: 1, rejected: 1, calculated: 2, adjusted: 3, voided: 1, unchanged: 4 };
const TOTALS = [
  { serviceCode: "IMADOKO", currency: "JPY", lines: 7, amount: "140" },
  { serviceCode: null, currency: "JPY", lines: 2, amount: "400" },
];

function runRecord(runId: string, startedAt: string, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    incidentId: "inc",
    runId,
    requestedBy: "alice",
    reason: "r",
    dryRun: false,
    status: "completed",
    startedAt,
    policy: { rule: "calendar-day", dayBasis: "month", rounding: "floor" },
    incidentDigest: "i-1",
    snapshotDigest: "s-1",
    snapshotName: "subs.csv",
    batchSize: 100,
    counts: COUNTS,
    totals: TOTALS,
    ...extra,
  };
}

const first = runRecord("run-aaa", "2011-12-23T00:00:00Z");
const preview = runRecord("run-bbb", "2011-12-24T00:00:00Z", { dryRun: true });
const proposed = () =>
  proposalOf(preview, [first, preview], "alice", "corrected windows", new Date("2011-12-24T01:00:00Z"));
const now = (extra: Partial<Parameters<typeof approvalRefusal>[1]> = {}) => ({
  approver: "bob",
  runs: [first, preview],
  incidentDigest: "i-1",
  snapshotDigest: "s-1",
  ...extra,
});

/** A proposal store in memory, holding to the same conditions as the DynamoDB one. */
function memoryStore(): ProposalStore & { all: Map<string, Proposal> } {
  const all = new Map<string, Proposal>();
  return {
    all,
    createProposal: async (p) => (all.has(p.proposalId) ? false : Boolean(all.set(p.proposalId, p))),
    getProposal: async (_i, id) => all.get(id),
    listProposals: async () => [...all.values()],
    updateProposal: async (p, from: ProposalState) => {
      if (all.get(p.proposalId)?.state !== from) return false;
      all.set(p.proposalId, p);
      return true;
    },
  };
}

describe("proposalOf", () => {
  it("records the preview's counts, totals and digests, and the run it stands on", () => {
    expect(proposed()).toEqual({
      incidentId: "inc",
      proposalId: "prop-bbb",
      state: "open",
      proposedBy: "alice",
      previewBy: "alice",
      reason: "corrected windows",
      proposedAt: "2011-12-24T01:00:00.000Z",
      previewRunId: "run-bbb",
      baseRunId: "run-aaa",
      writers: ["run-aaa completed"],
      incidentDigest: "i-1",
      snapshotDigest: "s-1",
      snapshotName: "subs.csv",
      counts: COUNTS,
      totals: TOTALS,
    });
  });

  it("refuses what is not a completed preview, a proposal without a name or reason, and one while a run goes", () => {
    const at = new Date();
    expect(() => proposalOf(first, [first], "alice", "r", at)).toThrow(/is not a completed preview/);
    expect(() => proposalOf({ ...preview, status: "failed" }, [], "alice", "r", at)).toThrow(ProposalRefusedError);
    expect(() => proposalOf(preview, [], " ", "r", at)).toThrow("a proposal needs its proposer's name");
    expect(() => proposalOf(preview, [], "alice", "", at)).toThrow("a proposal needs a reason");
    const running = runRecord("run-ccc", "2011-12-24T00:30:00Z", { status: "running" });
    expect(() => proposalOf(preview, [first, running], "alice", "r", at)).toThrow(
      "run run-ccc of incident inc is running: propose once it has finished (if it died, resume it, or release it with hiwari unlock --incident-id inc)",
    );
  });
});

describe("baseRunOf", () => {
  it("is the latest started run that could write, whatever its status; dry runs and requests do not count", () => {
    const failed = runRecord("run-f", "2011-12-25T00:00:00Z", { status: "failed" });
    const requested = runRecord("run-q", "2011-12-26T00:00:00Z", { status: "requested" });
    expect(baseRunOf([])).toBeNull();
    expect(baseRunOf([preview])).toBeNull();
    expect(baseRunOf([failed, first, preview, requested])).toBe("run-f");
  });
});

describe("approvalRefusal", () => {
  it("lets another person approve an open proposal when nothing it was computed from changed", () => {
    expect(approvalRefusal(proposed(), now())).toBeUndefined();
  });

  it.each([
    ["its proposer", { approver: "alice" }, "alice proposed prop-bbb: another person must approve it (four eyes)"],
    ["no one", { approver: "" }, "an approval needs the approver's name"],
    [
      "after another run",
      { runs: [first, preview, runRecord("run-ccc", "2011-12-25T00:00:00Z")] },
      "run run-ccc of incident inc came, ended or was resumed after the preview (which stood on run-aaa): the preview no longer says what applying it would do; preview again (a new dry run) and propose that preview",
    ],
    [
      "after a failed run",
      { runs: [first, preview, runRecord("run-ccc", "2011-12-25T00:00:00Z", { status: "failed" })] },
      "run run-ccc of incident inc came, ended or was resumed after the preview",
    ],
    [
      "after an earlier run was resumed and completed (the same latest run, another state)",
      { runs: [runRecord("run-aaa", "2011-12-23T00:00:00Z", { completedAt: "2011-12-25T00:00:00Z" }), preview] },
      "run run-aaa of incident inc came, ended or was resumed after the preview",
    ],
    [
      "its proposer with another case and spaces",
      { approver: " ALICE " },
      "proposed prop-bbb: another person must approve it",
    ],
    [
      "its proposer in full-width letters",
      { approver: "ａｌｉｃｅ" },
      "proposed prop-bbb: another person must approve it",
    ],
    [
      "another incident file",
      { incidentDigest: "i-2" },
      "the incident is not the one previewed (its SHA-256 differs): preview again (a new dry run) and propose that preview",
    ],
    [
      "another snapshot",
      { snapshotDigest: "s-2" },
      "the snapshot subs.csv is not the one previewed (its SHA-256 differs): preview again (a new dry run) and propose that preview",
    ],
  ])("refuses %s", (_, extra, why) => {
    expect(approvalRefusal(proposed(), now(extra))).toContain(why);
  });

  it("refuses whoever ran the preview when another person proposed it (four eyes), and not on an older proposal", () => {
    // Prepare: dave ran the preview, alice proposed it; an older proposal does not say who ran its preview.
    const p = proposalOf({ ...preview, requestedBy: "dave" }, [first], "alice", "r", new Date());
    const { previewBy: _, ...older } = p;

    // Act
    const dave = approvalRefusal(p, now({ approver: " DAVE " }));

    // Assess
    expect(p.previewBy).toBe("dave");
    expect(dave).toBe("DAVE ran the preview prop-bbb stands on: another person must approve it (four eyes)");
    expect(approverRefusal(p, "dave")).toMatchObject({ kind: "forbidden" });
    expect(approvalRefusal(p, now({ approver: "bob" }))).toBeUndefined();
    expect(approvalRefusal(older, now({ approver: "dave" }))).toBeUndefined();
  });

  it("counts one IAM Identity Center user through two permission sets as one person", () => {
    // Prepare: alice proposed through one permission set; she approves through another, in another account.
    const sso = (account: string, set: string, user: string) =>
      `arn:aws:sts::${account}:assumed-role/AWSReservedSSO_${set}_0123456789abcdef/${user}`;
    const p = proposalOf(preview, [first], sso("111111111111", "Finance", "alice"), "r", new Date());

    // Act
    const herself = approvalRefusal(p, now({ approver: sso("222222222222", "FinanceApprover", "Alice") }));
    const bob = approvalRefusal(p, now({ approver: sso("111111111111", "FinanceApprover", "bob") }));

    // Assess
    expect(herself).toMatch(/proposed prop-bbb: another person must approve it \(four eyes\)$/);
    expect(bob).toBeUndefined();
  });

  it.each(["requested", "running"] as const)(
    "refuses while another run of the incident is %s (it writes before or beside the proposal's run)",
    (status) => {
      // Prepare: a run of the incident requested or started since the preview.
      const other = runRecord("run-ccc", "2011-12-25T00:00:00Z", { status });

      // Act
      const why = approvalRefusal(proposed(), now({ runs: [first, preview, other] }));

      // Assess
      expect(why).toBe(
        `run run-ccc of incident inc is ${status}: no proposal may be applied beside it; once it has ended, preview again (a new dry run) and propose that preview`,
      );
    },
  );

  it("refuses while another proposal of the incident is approved; its own run, dry runs and settled proposals do not count", () => {
    // Prepare: prop-ddd approved by carol; and, resumed by bob, this proposal with its own run running beside a
    // preview running, prop-ddd applied.
    const other: Proposal = { ...proposed(), proposalId: "prop-ddd", state: "approved", approvedBy: "carol" };
    const own = runRecord(runIdOf("inc", "prop-bbb"), "2011-12-25T00:00:00Z", { status: "running" });
    const dry = runRecord("run-eee", "2011-12-25T00:00:00Z", { dryRun: true, status: "running" });
    const resumed: Proposal = { ...proposed(), state: "approved", approvedBy: "bob" };

    // Act
    const held = approvalRefusal(proposed(), now({ proposals: [proposed(), other] }));
    const free = approvalRefusal(
      resumed,
      now({ runs: [first, preview, own, dry], proposals: [resumed, { ...other, state: "applied" }] }),
    );

    // Assess
    expect(held).toBe(
      "proposal prop-ddd of incident inc is approved (by carol) and not settled: one proposal at a time; once it is settled, preview again (a new dry run) and propose that preview",
    );
    expect(free).toBeUndefined();
  });

  it("refuses a proposal no longer open", () => {
    const applied: Proposal = { ...proposed(), state: "applied", approvedBy: "bob" };
    expect(approvalRefusal(applied, now({ approver: "carol" }))).toBe(
      "proposal prop-bbb is applied (approved by bob): only an open proposal can be approved",
    );
  });
});

describe("differencesFrom", () => {
  it("names every count and total the applied run did otherwise, and nothing when it reproduced them", () => {
    const p = proposed();
    expect(differencesFrom(p, runRecord("run-x", "2011-12-25T00:00:00Z"))).toEqual([]);
    const off = runRecord("run-x", "2011-12-25T00:00:00Z", {
      counts: { ...COUNTS, adjusted: 2, unchanged: 5 },
      totals: [TOTALS[0] as never, { serviceCode: "DRIVENET", currency: "JPY", lines: 1, amount: "20" }],
    });
    expect(differencesFrom(p, off)).toEqual([
      "adjusted 2 where the preview had 3",
      "unchanged 5 where the preview had 4",
      "owed for goodwill JPY: nothing where the preview had 2 lines, 400",
      "owed for DRIVENET JPY: 1 lines, 20 where the preview had nothing",
    ]);
    expect(differencesFrom(p, { ...off, status: "failed", error: "boom", counts: COUNTS, totals: TOTALS })).toEqual([
      "the run is failed: boom",
    ]);
  });
});

describe("approveProposal", () => {
  it("applies an approved proposal with its id as the request id and records it applied, by whom", async () => {
    const store = memoryStore();
    const p = proposed();
    await store.createProposal(p);
    const applied: string[] = [];

    const done = await approveProposal(store, p, now(), async (q) => {
      applied.push(q.proposalId);
      return runRecord("run-applied", "2011-12-25T00:00:00Z");
    });

    expect(applied).toEqual(["prop-bbb"]);
    expect(done).toMatchObject({ state: "applied", approvedBy: "bob", appliedRunId: "run-applied" });
    expect(store.all.get("prop-bbb")).toEqual(done);
  });

  it("refuses its proposer and applies nothing", async () => {
    const store = memoryStore();
    const p = proposed();
    await store.createProposal(p);
    let applied = 0;
    const apply = async () => {
      applied++;
      return first;
    };
    await expect(approveProposal(store, p, now({ approver: "alice" }), apply)).rejects.toThrow(ProposalRefusedError);
    expect(applied).toBe(0);
    expect(store.all.get("prop-bbb")?.state).toBe("open");
  });

  it("fails loudly, and records why, when the run does not reproduce the proposal", async () => {
    const store = memoryStore();
    const p = proposed();
    await store.createProposal(p);
    const off = runRecord("run-applied", "2011-12-25T00:00:00Z", { counts: { ...COUNTS, voided: 2 } });

    const error = await approveProposal(store, p, now(), async () => off).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProposalNotReproducedError);
    expect((error as Error).message).toBe(
      "run run-applied applied proposal prop-bbb but did not reproduce it: voided 2 where the preview had 1. Its changes are stored and their events published (or waiting in the stream); review them with hiwari report and correct with a new proposal",
    );
    expect(store.all.get("prop-bbb")).toMatchObject({ state: "failed", failure: "voided 2 where the preview had 1" });
  });

  it("fails when the applying run read other bytes than the preview, even with the same counts and totals", async () => {
    const store = memoryStore();
    const p = proposed();
    await store.createProposal(p);
    const other = runRecord("run-applied", "2011-12-25T00:00:00Z", { snapshotDigest: "f".repeat(64) });

    const error = await approveProposal(store, p, now(), async () => other).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProposalNotReproducedError);
    expect(store.all.get("prop-bbb")).toMatchObject({
      state: "failed",
      failure: `the snapshot's SHA-256 is ${"f".repeat(64)} where the preview's was ${p.snapshotDigest}`,
    });
  });

  it("leaves an approval stopped by a resumable error approved, for its approver to resume", async () => {
    // Arrange
    const store = memoryStore();
    const p = proposed();
    await store.createProposal(p);
    class Stopped extends Error {}
    const resumable = (e: unknown) => e instanceof Stopped;
    const stop = async (): Promise<RunRecord> => {
      throw new Stopped("SIGINT");
    };

    // Act: stopped; then carol tries; then bob resumes it
    await expect(approveProposal(store, p, now(), stop, resumable)).rejects.toThrow("SIGINT");
    const stopped = store.all.get("prop-bbb") as Proposal;
    const carol = await approveProposal(store, stopped, now({ approver: "carol" }), async () => first).catch(
      (e: unknown) => e,
    );
    const applied = runRecord("run-applied", "2011-12-25T00:00:00Z");
    const resumed = await approveProposal(store, stopped, now(), async () => applied, resumable);

    // Assess
    expect(stopped).toMatchObject({ state: "approved", approvedBy: "bob" });
    expect((carol as Error).message).toBe(
      "proposal prop-bbb is approved (approved by bob, who can resume it): only an open proposal can be approved",
    );
    expect(resumed).toMatchObject({ state: "applied", approvedBy: "bob", appliedRunId: "run-applied" });
  });

  it("lets only one of two approvals at once apply it, and resumes an approval that died for its approver", async () => {
    // Arrange: bob's approval is recorded, then dies while applying
    const store = memoryStore();
    const p = proposed();
    await store.createProposal(p);
    await expect(
      approveProposal(store, p, now(), async () => {
        throw new Error("killed");
      }),
    ).rejects.toThrow("killed");
    const [dead] = [store.all.get("prop-bbb") as Proposal];
    // (a run that failed leaves the proposal failed: a kill leaves it approved)
    store.all.set("prop-bbb", { ...dead, state: "approved", failure: undefined });

    // Act
    const carol = await approveProposal(store, p, now({ approver: "carol" }), async () => first).catch(
      (e: unknown) => e,
    );
    const resumed = await approveProposal(store, store.all.get("prop-bbb") as Proposal, now(), async () =>
      runRecord("run-applied", "2011-12-25T00:00:00Z"),
    );

    // Assess
    expect(dead.state).toBe("failed");
    expect((carol as Error).message).toBe("proposal prop-bbb was approved by someone else meanwhile");
    expect(resumed).toMatchObject({ state: "applied", approvedBy: "bob" });
  });
});

describe("proposalOfPreview (the finance API's propose)", () => {
  it("stands on the runs started before the preview, and is undefined for a run the incident does not have", () => {
    const at = new Date("2011-12-24T01:00:00Z");
    expect(proposalOfPreview([first, preview], "run-bbb", "alice", "corrected windows", at)).toEqual(proposed());
    expect(proposalOfPreview([first, preview], "run-zzz", "alice", "r", at)).toBeUndefined();
  });

  it("refuses (a conflict) a preview a writing run started after; a later dry run does not count", () => {
    const later = runRecord("run-ccc", "2011-12-25T00:00:00Z");
    const laterPreview = runRecord("run-ddd", "2011-12-25T00:00:00Z", { dryRun: true });
    const at = new Date("2011-12-25T01:00:00Z");
    expect(() => proposalOfPreview([first, preview, later], "run-bbb", "alice", "r", at)).toThrow(
      expect.objectContaining({
        kind: "conflict",
        message:
          "run run-ccc started after the preview run-bbb: the preview no longer says what applying it would do; preview again",
      }),
    );
    expect(proposalOfPreview([first, preview, laterPreview], "run-bbb", "alice", "r", at)?.baseRunId).toBe("run-aaa");
  });
});

describe("approverRefusal (kinds: the finance API answers 400, 403, 409)", () => {
  it("forbids its proposer, finds an approver without a name invalid, and a proposal no longer open a conflict", () => {
    const p = proposed();
    expect(approverRefusal(p, " ALICE ")).toMatchObject({ kind: "forbidden", name: "ProposalRefusedError" });
    expect(approverRefusal(p, "")).toMatchObject({ kind: "invalid" });
    expect(approverRefusal({ ...p, state: "applied" }, "bob")).toMatchObject({ kind: "conflict" });
    expect(approverRefusal(p, "bob")).toBeUndefined();
    expect(approverRefusal({ ...p, state: "approved", approvedBy: "bob" }, "bob")).toBeUndefined(); // resumes
  });
});

describe("markApproved (the finance API's approve: the run is started after, and settled at its end)", () => {
  it("marks an open proposal approved by the approver, and gives back one its approver approved already", async () => {
    const store = memoryStore();
    await store.createProposal(proposed());
    const approved = await markApproved(store, proposed(), now(), () => new Date("2011-12-24T02:00:00Z"));
    expect(approved).toEqual({
      ...proposed(),
      state: "approved",
      approvedBy: "bob",
      approvedAt: "2011-12-24T02:00:00.000Z",
    });
    expect(store.all.get("prop-bbb")).toEqual(approved);
    expect(await markApproved(store, approved, now())).toBe(approved);
  });

  it("refuses a moved base (a conflict) and the loser of two approvals, writing nothing", async () => {
    const store = memoryStore();
    await store.createProposal(proposed());
    const since = runRecord("run-ccc", "2011-12-25T00:00:00Z");
    await expect(markApproved(store, proposed(), now({ runs: [first, preview, since] }))).rejects.toMatchObject({
      kind: "conflict",
      message: expect.stringMatching(/^run run-ccc of incident inc came, ended or was resumed after the preview/),
    });
    expect(store.all.get("prop-bbb")?.state).toBe("open");
    await markApproved(store, proposed(), now({ approver: "carol" }));
    await expect(markApproved(store, proposed(), now())).rejects.toThrow(
      "proposal prop-bbb was approved by someone else meanwhile",
    );
    expect(store.all.get("prop-bbb")).toMatchObject({ approvedBy: "carol" });
  });
});

describe("settleProposalRun (complete and fail settle the proposal a run applied)", () => {
  const approvedIn = async () => {
    const store = memoryStore();
    await store.createProposal(proposed());
    await markApproved(store, proposed(), now());
    return store;
  };
  const applying = (extra: Partial<RunRecord> = {}) =>
    runRecord("run-applied", "2011-12-25T00:00:00Z", { proposalId: "prop-bbb", ...extra });

  it("marks it applied when the run reproduced the preview", async () => {
    const store = await approvedIn();
    expect(await settleProposalRun(store, applying())).toEqual({
      proposal: expect.objectContaining({ state: "applied", appliedRunId: "run-applied" }),
      differences: [],
    });
    expect(store.all.get("prop-bbb")?.failure).toBeUndefined();
  });

  it("marks it failed with the differences when the run did not reproduce it, and with the error when it failed", async () => {
    const store = await approvedIn();
    const otherwise = applying({ snapshotDigest: "s-2", counts: { ...COUNTS, voided: 2 } });
    expect(await settleProposalRun(store, otherwise)).toEqual({
      proposal: expect.objectContaining({
        state: "failed",
        failure: "the snapshot's SHA-256 is s-2 where the preview's was s-1; voided 2 where the preview had 1",
      }),
      differences: ["the snapshot's SHA-256 is s-2 where the preview's was s-1", "voided 2 where the preview had 1"],
    });
    const failedStore = await approvedIn();
    const failed = applying({ status: "failed", error: "States.Timeout", counts: undefined });
    expect((await settleProposalRun(failedStore, failed))?.proposal).toMatchObject({
      state: "failed",
      failure: "run run-applied failed: States.Timeout",
    });
  });

  it("settles nothing for a run without a proposal, a run not ended, or a proposal settled already", async () => {
    const store = await approvedIn();
    expect(await settleProposalRun(store, runRecord("run-x", "2011-12-25T00:00:00Z"))).toBeUndefined();
    expect(await settleProposalRun(store, applying({ status: "running" }))).toBeUndefined();
    await settleProposalRun(store, applying());
    expect(await settleProposalRun(store, applying({ counts: { ...COUNTS, voided: 9 } }))).toBeUndefined();
    expect(store.all.get("prop-bbb")?.state).toBe("applied");
  });

  it("appliedDifferences also names an incident other than the previewed one", () => {
    expect(appliedDifferences(proposed(), applying({ incidentDigest: "i-2" }))).toEqual([
      "the incident's SHA-256 is i-2 where the preview's was i-1",
    ]);
  });

  it("settles again a proposal fail-run marked failed when its run completes after all (applied when reproduced)", async () => {
    // Prepare: fail-run settled the proposal failed; then the same run completed.
    const store = await approvedIn();
    await settleProposalRun(store, applying({ status: "failed", error: "States.Timeout", counts: undefined }));

    // Act
    const settled = await settleProposalRun(store, applying());

    // Assess
    expect(settled).toEqual({ proposal: expect.objectContaining({ state: "applied" }), differences: [] });
    expect(store.all.get("prop-bbb")).toMatchObject({ state: "applied", appliedRunId: "run-applied" });
    expect(store.all.get("prop-bbb")?.failure).toBeUndefined();
  });

  it("settles again, with the differences, a proposal failed before its own run (by the proposal's id) completed", async () => {
    // Prepare: failed as if its run could not start (no run applied it yet); then its own run completed otherwise.
    const store = await approvedIn();
    await store.updateProposal(
      { ...(store.all.get("prop-bbb") as Proposal), state: "failed", failure: "x" },
      "approved",
    );
    const own = applying({ runId: runIdOf("inc", "prop-bbb"), counts: { ...COUNTS, voided: 2 } });

    // Act
    const settled = await settleProposalRun(store, own);
    const retried = await settleProposalRun(store, own);
    const stranger = await settleProposalRun(store, applying({ runId: "run-other" }));

    // Assess: failed with what the run did; a retried complete and a run not its own settle nothing.
    expect(settled).toEqual({
      proposal: expect.objectContaining({ state: "failed", appliedRunId: own.runId }),
      differences: ["voided 2 where the preview had 1"],
    });
    expect(store.all.get("prop-bbb")?.failure).toBe("voided 2 where the preview had 1");
    expect([retried, stranger]).toEqual([undefined, undefined]);
  });

  it("failApproved records why an approved proposal's run could not start, when it has no run or its run failed", async () => {
    const store = await approvedIn();
    const approved = store.all.get("prop-bbb") as Proposal;
    expect(await failApproved(store, approved, "snapshot gone", undefined)).toMatchObject({
      state: "failed",
      failure: "snapshot gone",
    });
    expect(store.all.get("prop-bbb")?.state).toBe("failed");
    const again = await approvedIn();
    const failedRun = applying({ status: "failed" });
    expect(await failApproved(again, approved, "taken", failedRun)).toMatchObject({
      state: "failed",
      failure: "taken",
    });
  });

  it("failApproved leaves approved a proposal whose run exists and has not failed: the run settles it", async () => {
    // Prepare: the proposal's run recorded (requested), as by a first approval whose resend could not start it.
    const store = await approvedIn();
    const approved = store.all.get("prop-bbb") as Proposal;

    // Act
    const kept = await failApproved(store, approved, "snapshot gone", applying({ status: "requested" }));

    // Assess
    expect(kept).toEqual(approved);
    expect(store.all.get("prop-bbb")).toEqual(approved);
  });
});

describe("previewStanding", () => {
  it("lets an incident's first preview be applied as its first run, and nothing after a run started", () => {
    const lone = runRecord("run-p1", "2011-12-22T00:00:00Z", { dryRun: true });
    const otherPreview = runRecord("run-p0", "2011-12-21T00:00:00Z", { dryRun: true });
    expect(previewStanding([otherPreview, lone], lone)).toEqual({ later: undefined, firstRun: true });
    // a run that failed part-way may have written lines: what follows is a rerun
    const failed = runRecord("run-f", "2011-12-21T00:00:00Z", { status: "failed" });
    expect(previewStanding([failed, lone], lone)).toEqual({ later: undefined, firstRun: false });
  });

  it("finds the run that started after the preview, whatever its status", () => {
    const requested = runRecord("run-later", "2011-12-25T00:00:00Z", { status: "requested" });
    expect(previewStanding([first, preview, requested], preview)).toEqual({ later: requested, firstRun: false });
    expect(previewStanding([first, preview], preview)).toEqual({ later: undefined, firstRun: false });
  });
});
