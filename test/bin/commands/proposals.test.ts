import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { approve, proposals, propose } from "../../../bin/commands/proposals";
import { run } from "../../../bin/commands/run";
import { openLocalEnvironment } from "../../../bin/io/local-environment";
import { UsageError } from "../../../bin/usage-error";
import type { Proposal } from "../../../shared/pipeline/proposal";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { checkLocalRun } from "../../helpers/local-run-checks";
import { captureStdout, quiet } from "../../helpers/stdout";

/**
 * An incident run once (20 subscriptions, 10 subscribers, 200 yen of goodwill), and a correction of it: the
 * window ends a day later (each line adjusted), in a folder of its own. Each command starts DynamoDB Local on the
 * folder (a JVM: seconds, more on a busy machine), so a proposal's id is read from what propose prints, and what
 * the folder holds at the end is read in one go.
 */
async function incidentRunOnce(incidentId: string) {
  const dir = mkdtempSync(join(tmpdir(), `hiwari-${incidentId}-`));
  const state = join(dir, "state");
  const doc = incidentDoc({ incidentId, goodwill: { amount: 200, currency: "JPY" } });
  const corrected = {
    ...doc,
    suspensions: doc.suspensions.map((s: { end: string }) => ({
      ...s,
      end: s.end.replace(/-(\d\d)T/, (_, d) => `-${Number(d) + 1}T`),
    })),
  };
  const csv = csvOf(Array.from({ length: 20 }, (_, i) => row({ subscriber_id: `S-${i % 10}` }, i)));
  const files = {
    incident: join(dir, "incident.json"),
    corrected: join(dir, "corrected.json"),
    subscriptions: join(dir, "subs.csv"),
  };
  writeFileSync(files.incident, JSON.stringify(doc));
  writeFileSync(files.corrected, JSON.stringify(corrected));
  writeFileSync(files.subscriptions, csv);
  const common = { subscriptions: files.subscriptions, state, batchSize: "7" };
  expect(await quiet(() => run({ ...common, incident: files.incident, reason: "first", by: "ops" }))).toBe(0);
  /** Proposes the correction as `by`: its exit status and the proposal's id, as propose prints them. */
  const proposeCorrection = async (by: string) => {
    const { result, out } = await captureStdout(() =>
      propose({ ...common, incident: files.corrected, reason: "the window ended a day later", by }),
    );
    return { status: result, proposalId: new RegExp(`^proposal (prop-\\S+) by ${by}:`, "m").exec(out)?.[1] ?? "" };
  };
  const listed = async () => {
    const { out } = await captureStdout(() => proposals({ incidentId, state, json: true }));
    return JSON.parse(out) as Proposal[];
  };
  /** The incident's proposals and runs, as the folder holds them. */
  const stored = async () => {
    const env = await openLocalEnvironment(state);
    try {
      return { proposals: await env.store.listProposals(incidentId), runs: await env.store.listRuns(incidentId) };
    } finally {
      await env.stop();
    }
  };
  const approveAs = (proposal: string, by: string) => quiet(() => approve({ incidentId, proposal, by, state }));
  return { dir, state, doc, corrected, csv, files, common, proposeCorrection, listed, stored, approveAs };
}

describe("hiwari propose and approve (four eyes)", () => {
  it("a correction proposed by one person is refused to them and applied by another, reproducing the preview exactly", {
    timeout: 600_000,
  }, async () => {
    // Arrange
    const w = await incidentRunOnce("four-eyes");

    // Act 1: alice proposes the correction
    const proposed = await w.proposeCorrection("alice");
    const id = proposed.proposalId;

    // Act 2: alice approves it herself; bob approves it; carol approves it again
    const herself = await w.approveAs(id, "alice").catch((e: unknown) => e);
    const bob = await w.approveAs(id, "bob");
    const again = await w.approveAs(id, "carol").catch((e: unknown) => e);

    // Assess: proposed by alice; refused to her, applied by bob, applied once (approving it again is refused)
    expect([proposed.status, id]).toEqual([0, expect.stringMatching(/^prop-/)]);
    expect(herself).toBeInstanceOf(UsageError);
    expect((herself as Error).message).toBe(`alice proposed ${id}: another person must approve it (four eyes)`);
    expect(bob).toBe(0);
    expect((again as Error).message).toBe(
      `proposal ${id} is applied (approved by bob): only an open proposal can be approved`,
    );
    // The preview counted 20 adjusted lines (a day more each) and 10 unchanged credits; the run that applied it
    // reproduced its counts and totals, and stored what hiwari compute gives for the corrected incident
    const [applied] = await w.listed();
    expect(applied).toMatchObject({
      proposalId: id,
      state: "applied",
      proposedBy: "alice",
      reason: "the window ended a day later",
      approvedBy: "bob",
    });
    expect(applied?.counts).toMatchObject({ rows: 20, calculated: 0, adjusted: 20, voided: 0, unchanged: 10 });
    const history = await checkLocalRun(w.state, w.corrected, w.csv);
    const run = history.find((r) => r.runId === applied?.appliedRunId);
    expect(run).toMatchObject({
      status: "completed",
      requestedBy: "bob",
      counts: applied?.counts,
      totals: applied?.totals,
    });
    expect(run?.reason).toBe(`the window ended a day later (proposal ${id} by alice, approved by bob)`);
  });

  it("refuses a proposal whose base moved (another run since) or whose snapshot changed, applying nothing", {
    timeout: 600_000,
  }, async () => {
    // Arrange: two proposals; then a run of the incident; then the snapshot file changes
    const w = await incidentRunOnce("moved");
    const first = await w.proposeCorrection("alice");
    expect(await quiet(() => run({ ...w.common, incident: w.files.incident, reason: "again", by: "ops" }))).toBe(0);
    const second = await w.proposeCorrection("alice");
    expect([first.status, second.status]).toEqual([0, 0]);
    writeFileSync(w.files.subscriptions, `${w.csv}C-99,S-99,IMADOKO,310,JPY,2011-01-01,,,\n`);

    // Act
    const stale = await w.approveAs(first.proposalId, "bob").catch((e: unknown) => e);
    const changed = await w.approveAs(second.proposalId, "bob").catch((e: unknown) => e);

    // Assess: refused, named; both still open; no run besides the two
    expect((stale as Error).message).toMatch(
      /^run run-[0-9a-f]{20} of incident moved came, ended or was resumed after the preview \(which stood on run-[0-9a-f]{20}\)/,
    );
    expect((changed as Error).message).toBe(
      `the snapshot ${w.files.subscriptions} is not the one previewed (its SHA-256 differs): preview again (a new dry run) and propose that preview`,
    );
    const { proposals: kept, runs } = await w.stored();
    expect(kept.map((p) => [p.proposalId, p.state]).sort()).toEqual(
      [
        [first.proposalId, "open"],
        [second.proposalId, "open"],
      ].sort(),
    );
    expect(runs.filter((r) => !r.dryRun)).toHaveLength(2);
  });
});
