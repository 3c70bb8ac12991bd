import { createHash, randomUUID } from "node:crypto";
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  appliedReason,
  approveProposal,
  PREVIEW_AGAIN,
  type Proposal,
  ProposalNotReproducedError,
  ProposalRefusedError,
  personRefusal,
  proposalOfPreview,
} from "../../shared/pipeline/proposal";
import { runIdOf, sha256 } from "../../shared/pipeline/run-context";
import { INCIDENT_FILE } from "../../shared/pipeline/run-steps";
import type { RunRecord } from "../../shared/store/refund-store";
import { accountingRow, n, totalRow } from "../format";
import { type LocalEnvironment, withLocalEnvironment } from "../io/local-environment";
import { runFolder } from "../io/local-run-files";
import { EXIT, InterruptedError, LocalStateError, UsageError } from "../usage-error";
import { checkReadable, readIncidentFile } from "./compute";
import { runsOfKnownIncident } from "./finance";
import { checkSnapshotHeader, LOCAL_BATCH_SIZE, type RunOptions, run } from "./run";

/** `hiwari propose`: a preview (a dry run) of a run, recorded as a proposal another person must approve. */
export async function propose(options: Omit<RunOptions, "dryRun" | "requestId" | "json">): Promise<number> {
  const { incident } = readIncidentFile(options.incident);
  if (options.by.trim() === "") throw new UsageError("--by: a proposal needs its proposer's name");
  if (options.reason.trim() === "") throw new UsageError("--reason: a proposal needs a reason");
  // Kept as an absolute path: the approval reads the same file from wherever it is run.
  const subscriptions = resolve(options.subscriptions);
  checkReadable(subscriptions);
  await checkSnapshotHeader(subscriptions, incident);
  const requestId = randomUUID();
  const runId = runIdOf(incident.incidentId, requestId);
  return withLocalEnvironment(options.state, false, async (env) => {
    const code = await run({ ...options, subscriptions, dryRun: true, requestId }, env);
    const proposal = await proposePreview(env, options.state, incident.incidentId, runId, options.by, options.reason);
    process.stdout.write(
      `proposal ${proposal.proposalId} by ${proposal.proposedBy}: the preview above, standing on ` +
        `${proposal.baseRunId ?? "no earlier run"}. Another person applies it with:\n` +
        `  hiwari approve --incident-id ${proposal.incidentId} --proposal ${proposal.proposalId} --by NAME` +
        `${options.state === ".hiwari" ? "" : ` --state ${options.state}`}\n`,
    );
    return code;
  });
}

/**
 * Records a completed preview (a dry run) of the state folder as a proposal, standing on the incident's runs as
 * they were before it (hiwari propose, and the console's "propose"); refusals are usage errors.
 */
export async function proposePreview(
  env: LocalEnvironment,
  state: string,
  incidentId: string,
  previewRunId: string,
  by: string,
  reason: string,
): Promise<Proposal> {
  const runs = await env.store.listRuns(incidentId);
  const made = refusedAsUsage(() => proposalOfPreview(runs, previewRunId, by, reason, new Date()));
  if (!made) throw new UsageError(`incident ${incidentId} has no run ${previewRunId}`);
  // The incident's digest as kept with the preview's files: the bytes an approval applies.
  const kept = sha256(readFileSync(join(runFolder(state, previewRunId), INCIDENT_FILE)));
  const proposal = { ...made, incidentDigest: kept };
  if (!(await env.store.createProposal(proposal)))
    throw new UsageError(`proposal ${proposal.proposalId} exists already`);
  return proposal;
}

/** The SHA-256 of a file's bytes, read as a stream (a snapshot of millions of rows). */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * `hiwari approve`: applies a proposal as another person than its proposer, if nothing it was computed from has
 * changed (no run since, the same incident and snapshot); the run must reproduce its counts and totals.
 */
export async function approve(options: ApproveOptions): Promise<number> {
  return withLocalEnvironment(options.state, false, async (env) => {
    const applied = await approveIn(env, options);
    process.stdout.write(
      `proposal ${applied.proposalId} applied by run ${applied.appliedRunId}, approved by ${applied.approvedBy}: ` +
        "its counts and totals are the preview's\n",
    );
    return EXIT.ok;
  });
}

export interface ApproveOptions {
  incidentId: string;
  proposal: string;
  by: string;
  state: string;
}

/**
 * Approves and applies a proposal of the state folder whose environment the caller holds (hiwari approve, the
 * console): refusals are usage errors; a run that did not reproduce the preview, or stopped, a LocalStateError or
 * InterruptedError saying how to resume.
 */
export async function approveIn(env: LocalEnvironment, options: ApproveOptions): Promise<Proposal> {
  const proposal = await env.store.getProposal(options.incidentId, options.proposal);
  if (!proposal)
    throw new UsageError(
      `no proposal ${options.proposal} of incident ${options.incidentId} in ${options.state} ` +
        `(hiwari proposals --incident-id ${options.incidentId} lists them)`,
    );
  // Who may approve, first: refused before the snapshot is read again.
  const person = personRefusal(proposal, options.by);
  if (person) throw new UsageError(person);
  // The incident as previewed (kept with the preview's files), the snapshot where it was read.
  const incidentFile = join(runFolder(options.state, proposal.previewRunId), INCIDENT_FILE);
  if (!existsSync(incidentFile)) throw new LocalStateError(`${incidentFile}: the previewed incident is missing`);
  if (!existsSync(proposal.snapshotName))
    throw new UsageError(`the snapshot ${proposal.snapshotName} previewed is gone: ${PREVIEW_AGAIN}`);
  const runs = await env.store.listRuns(options.incidentId);
  const preview = runs.find((r) => r.runId === proposal.previewRunId);
  const now = {
    approver: options.by,
    runs,
    proposals: await env.store.listProposals(options.incidentId),
    incidentDigest: sha256(readFileSync(incidentFile)),
    snapshotDigest: await fileSha256(proposal.snapshotName),
  };
  const apply = async (p: Proposal) => {
    await run(
      {
        incident: incidentFile,
        subscriptions: p.snapshotName,
        state: options.state,
        reason: appliedReason(p),
        by: p.approvedBy ?? options.by,
        batchSize: String(preview?.batchSize ?? LOCAL_BATCH_SIZE),
        requestId: p.proposalId,
      },
      env,
    );
    return (await env.store.getRun(p.incidentId, runIdOf(p.incidentId, p.proposalId))) as RunRecord;
  };
  // Stopped, not failed (a signal, DynamoDB Local gone, a full disk): the proposal stays approved, and the same
  // approval resumes its run.
  const resumable = (e: unknown) => e instanceof InterruptedError || e instanceof LocalStateError;
  const again = `hiwari approve --incident-id ${options.incidentId} --proposal ${proposal.proposalId} --by ${options.by} --state ${options.state}`;
  try {
    return await approveProposal(env.store, proposal, now, apply, resumable);
  } catch (e) {
    if (e instanceof ProposalRefusedError) throw new UsageError(e.message, { cause: e });
    if (e instanceof ProposalNotReproducedError) throw new LocalStateError(e.message, { cause: e });
    const resume = `The proposal stays approved; resume it with: ${again}`;
    if (e instanceof InterruptedError) throw new InterruptedError(e.signal, `${e.message}. ${resume}`, { cause: e });
    if (e instanceof LocalStateError) throw new LocalStateError(`${e.message}. ${resume}`, { cause: e });
    throw e;
  }
}

/** `hiwari proposals`: an incident's proposals and what became of each. */
export async function proposals(options: { incidentId: string; state: string; json?: boolean }): Promise<number> {
  const list = await withLocalEnvironment(options.state, true, async (env) => {
    await runsOfKnownIncident(env, options.incidentId, options.state);
    return env.store.listProposals(options.incidentId);
  });
  if (options.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
  else if (list.length === 0) process.stdout.write(`no proposals for incident ${options.incidentId}\n`);
  else for (const p of list) process.stdout.write(summaryOf(p));
  return EXIT.ok;
}

function summaryOf(p: Proposal): string {
  const c = p.counts;
  const lines = [
    `proposal ${p.proposalId} of incident ${p.incidentId}: ${p.state}`,
    `  by ${p.proposedBy} at ${p.proposedAt}: ${p.reason}`,
    `  preview ${p.previewRunId}, standing on ${p.baseRunId ?? "no earlier run"}, snapshot ${p.snapshotName}`,
    `  ${accountingRow(c)}`,
    `  lines: new ${n(c.calculated)}, adjusted ${n(c.adjusted)}, voided ${n(c.voided)}, unchanged ${n(c.unchanged)}`,
    "  owed after it, per service and currency:",
    ...p.totals.map((t) => `    ${totalRow(t)}`),
  ];
  if (p.approvedBy) lines.push(`  approved by ${p.approvedBy} at ${p.approvedAt}`);
  if (p.appliedRunId) lines.push(`  applied by run ${p.appliedRunId}`);
  if (p.failure) lines.push(`  failed: ${p.failure}`);
  return `${lines.join("\n")}\n`;
}

/** A refusal of the rules, as a usage error (exit 2, the message alone). */
function refusedAsUsage<T>(make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (e instanceof ProposalRefusedError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
}
