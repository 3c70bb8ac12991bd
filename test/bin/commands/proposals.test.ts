import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { approve, proposals, propose } from "../../../bin/commands/proposals";
import { run } from "../../../bin/commands/run";
import { UsageError } from "../../../bin/usage-error";
import type { Proposal } from "../../../shared/pipeline/proposal";
import { csvOf, incidentDoc, row } from "../../helpers/factories";
import { checkLocalRun } from "../../helpers/local-run-checks";
import { captureStdout, quiet } from "../../helpers/stdout";

/**
 * An incident run once (20 subscriptions, 10 subscribers, 200 yen of goodwill), and a correction of it: the
 * window ends a day later (each line adjusted), in a folder of its own.
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
  const proposeCorrection = (by: string) =>
    quiet(() => propose({ ...common, incident: files.corrected, reason: "the window ended a day later", by }));
  const listed = async () => {
    const { out } = await captureStdout(() => proposals({ incidentId, state, json: true }));
    return JSON.parse(out) as Proposal[];
  };
  const approveAs = (proposal: string, by: string) => quiet(() => approve({ incidentId, proposal, by, state }));
  return { dir, state, doc, corrected, csv, files, common, proposeCorrection, listed, approveAs };
}

describe("hiwari propose and approve (four eyes)", () => {
  it("a correction proposed by one person is refused to them and applied by another, reproducing the preview exactly", {
    timeout: 240_000,
  }, async () => {
    // Arrange
    const w = await incidentRunOnce("four-eyes");

    // Act 1: alice proposes the correction
    expect(await w.proposeCorrection("alice")).toBe(0);
    const [open] = await w.listed();
    if (!open) throw new Error("no proposal recorded");

    // Act 2: alice approves it herself; bob approves it
    const herself = await w.approveAs(open.proposalId, "alice").catch((e: unknown) => e);
    const bob = await w.approveAs(open.proposalId, "bob");

    // Assess: the preview counted 20 adjusted lines (a day more each) and 10 unchanged credits
    expect(open).toMatchObject({ state: "open", proposedBy: "alice", reason: "the window ended a day later" });
    expect(open.counts).toMatchObject({ rows: 20, calculated: 0, adjusted: 20, voided: 0, unchanged: 10 });
    expect(herself).toBeInstanceOf(UsageError);
    expect((herself as Error).message).toBe(
      `alice proposed ${open.proposalId}: another person must approve it (four eyes)`,
    );
    expect(bob).toBe(0);
    const [applied] = await w.listed();
    expect(applied).toMatchObject({ state: "applied", approvedBy: "bob", counts: open.counts, totals: open.totals });
    const history = await checkLocalRun(w.state, w.corrected, w.csv);
    const run = history.find((r) => r.runId === applied?.appliedRunId);
    expect(run).toMatchObject({ status: "completed", requestedBy: "bob", counts: open.counts, totals: open.totals });
    expect(run?.reason).toBe(`the window ended a day later (proposal ${open.proposalId} by alice, approved by bob)`);
    // Applied once: approving it again is refused, and changes nothing
    const again = await w.approveAs(open.proposalId, "carol").catch((e: unknown) => e);
    expect((again as Error).message).toBe(
      `proposal ${open.proposalId} is applied (approved by bob): only an open proposal can be approved`,
    );
  });

  it("refuses a proposal whose base moved (another run since) or whose snapshot changed, applying nothing", {
    timeout: 240_000,
  }, async () => {
    // Arrange: two proposals; then a run of the incident; then the snapshot file changes
    const w = await incidentRunOnce("moved");
    expect(await w.proposeCorrection("alice")).toBe(0);
    const [first] = await w.listed();
    expect(await quiet(() => run({ ...w.common, incident: w.files.incident, reason: "again", by: "ops" }))).toBe(0);
    expect(await w.proposeCorrection("alice")).toBe(0);
    const second = (await w.listed()).find((p) => p.proposalId !== first?.proposalId);
    writeFileSync(w.files.subscriptions, `${w.csv}C-99,S-99,IMADOKO,310,JPY,2011-01-01,,,\n`);

    // Act
    const stale = await w.approveAs(first?.proposalId ?? "", "bob").catch((e: unknown) => e);
    const changed = await w.approveAs(second?.proposalId ?? "", "bob").catch((e: unknown) => e);

    // Assess: refused, named; both still open; no run besides the two
    expect((stale as Error).message).toMatch(
      /^run run-[0-9a-f]{20} of incident moved came, ended or was resumed after the preview \(which stood on run-[0-9a-f]{20}\)/,
    );
    expect((changed as Error).message).toBe(
      `the snapshot ${w.files.subscriptions} is not the one previewed (its SHA-256 differs): propose again`,
    );
    expect((await w.listed()).map((p) => p.state)).toEqual(["open", "open"]);
    const { out } = await captureStdout(async () => {
      const { runs } = await import("../../../bin/commands/finance");
      return runs({ incidentId: "moved", state: w.state, json: true });
    });
    expect((JSON.parse(out) as { dryRun: boolean }[]).filter((r) => !r.dryRun)).toHaveLength(2);
  });
});
