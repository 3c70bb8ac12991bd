import { PermanentError } from "../errors";
import type { RecordedCounts, RunRecord, TotalLine } from "../store/refund-store";
import { principalPerson } from "./principal-person";
import { runIdOf } from "./run-context";
import { writingRuns } from "./standing";

/**
 * Four eyes on a mass correction: a preview (a dry run) becomes a proposal; applying it needs another person
 * than its proposer, and nothing it was computed from may have changed; the run that applies it must reproduce
 * its counts and totals exactly. Pure: the store and the pipeline come in as arguments.
 */
export interface Proposal {
  incidentId: string;
  /** `prop-` + the preview's run id's hex: one proposal a preview. Also the request id of the run that applies it. */
  proposalId: string;
  state: ProposalState;
  proposedBy: string;
  /**
   * Who ran the preview (its `requestedBy`): may not approve it either, whoever proposed it. Absent on proposals
   * made before it was kept (their approval is not checked against it).
   */
  previewBy?: string;
  reason: string;
  proposedAt: string;
  /** The dry run it was computed by. */
  previewRunId: string;
  /** The last run that could have written lines when it was previewed (none on an incident's first run). */
  baseRunId: string | null;
  /**
   * Every run that could have written lines, with its status and end, when it was previewed (`writersOf`): a run
   * resumed or finished since, not only a new one, moves what the preview stood on.
   */
  writers: string[];
  /** The SHA-256 of the incident as kept with the preview's files: the bytes an approval applies. */
  incidentDigest: string;
  snapshotName: string;
  snapshotDigest: string;
  /** What the preview counted and what would be owed after it, per service and currency. */
  counts: RecordedCounts;
  totals: TotalLine[];
  approvedBy?: string;
  approvedAt?: string;
  /** The run that applied it. */
  appliedRunId?: string;
  /** Why applying it failed: the run's error, or what it did not reproduce. */
  failure?: string;
}

/**
 * `open`: waiting for a second person; `approved`: being applied (its run under way); `applied`: its run
 * reproduced it; `failed`: its run failed or did not reproduce it (the run's changes stand: see `failure`).
 */
export type ProposalState = "open" | "approved" | "applied" | "failed";

/** Where proposals are kept (with the runs: docs/data-model.md). */
export interface ProposalStore {
  /** Records a new proposal; false when one of that id exists. */
  createProposal(proposal: Proposal): Promise<boolean>;
  getProposal(incidentId: string, proposalId: string): Promise<Proposal | undefined>;
  listProposals(incidentId: string): Promise<Proposal[]>;
  /** Replaces a proposal on the condition that it is still in state `from`; false when it is not. */
  updateProposal(proposal: Proposal, from: ProposalState): Promise<boolean>;
}

/**
 * What kind of refusal: `invalid`, something is missing (a name, a reason); `forbidden`, this person may not do it
 * (the proposer approving their own proposal); `conflict`, what stands now does not allow it (a run since, a
 * proposal no longer open). The finance API answers 400, 403 and 409.
 */
export type RefusalKind = "invalid" | "forbidden" | "conflict";

/** Thrown when a proposal cannot be made or applied: the message says why and what to do. */
export class ProposalRefusedError extends PermanentError {
  constructor(
    message: string,
    readonly kind: RefusalKind = "conflict",
  ) {
    super(message);
    this.name = "ProposalRefusedError";
  }
}

/** Thrown when the applying run did not reproduce its proposal: loud, since money moved as it was not approved. */
export class ProposalNotReproducedError extends PermanentError {
  constructor(
    readonly proposal: Proposal,
    readonly differences: string[],
  ) {
    super(
      `run ${proposal.appliedRunId} applied proposal ${proposal.proposalId} but did not reproduce it: ` +
        `${differences.join("; ")}. Its changes are stored and their events published (or waiting in the stream); review them with hiwari report ` +
        "and correct with a new proposal",
    );
    this.name = "ProposalNotReproducedError";
  }
}

export const proposalIdOf = (previewRunId: string) => `prop-${previewRunId.replace(/^run-/, "")}`;

/**
 * The run a proposal stands on: the latest started run that could write lines (not a dry run), whatever its
 * status (a failed or interrupted run may have changed lines too), or null when none did.
 */
export function baseRunOf(runs: readonly RunRecord[]): string | null {
  return [...writingRuns(runs)].sort((a, b) => a.startedAt.localeCompare(b.startedAt)).at(-1)?.runId ?? null;
}

/** Each run that could have written lines, as `runId status end`, sorted: what a preview stood on, whole. */
export function writersOf(runs: readonly RunRecord[]): string[] {
  return writingRuns(runs)
    .map((r) => `${r.runId} ${r.status} ${r.completedAt ?? r.error ?? ""}`.trim())
    .sort();
}

/**
 * A name as people mean it: spaces around it, full-width letters and case do not make another person, nor does
 * another permission set of one IAM Identity Center user (`principalPerson`).
 */
export const samePerson = (a: string, b: string) => {
  const person = (name: string) => principalPerson(name.normalize("NFKC").trim()).toLowerCase();
  return person(a) === person(b);
};

/** A proposal from a completed preview, standing on the runs of its incident as they were before it. */
export function proposalOf(
  preview: RunRecord,
  runs: readonly RunRecord[],
  proposedBy: string,
  reason: string,
  now: Date,
): Proposal {
  if (!preview.dryRun || preview.status !== "completed" || !preview.counts || !preview.totals)
    throw new ProposalRefusedError(
      `run ${preview.runId} is not a completed preview (a dry run): it cannot be proposed`,
    );
  if (proposedBy.trim() === "") throw new ProposalRefusedError("a proposal needs its proposer's name", "invalid");
  if (reason.trim() === "") throw new ProposalRefusedError("a proposal needs a reason", "invalid");
  const running = runs.find((r) => !r.dryRun && r.status === "running");
  if (running)
    throw new ProposalRefusedError(
      `run ${running.runId} of incident ${preview.incidentId} is running: propose once it has finished ` +
        `(if it died, resume it, or release it with hiwari unlock --incident-id ${preview.incidentId})`,
    );
  return {
    incidentId: preview.incidentId,
    proposalId: proposalIdOf(preview.runId),
    state: "open",
    proposedBy: proposedBy.trim(),
    previewBy: preview.requestedBy,
    reason,
    proposedAt: now.toISOString(),
    previewRunId: preview.runId,
    baseRunId: baseRunOf(runs),
    writers: writersOf(runs),
    incidentDigest: preview.incidentDigest,
    snapshotName: preview.snapshotName,
    snapshotDigest: preview.snapshotDigest,
    counts: preview.counts,
    totals: preview.totals,
  };
}

/**
 * Where a preview stands among the incident's runs now: `later`, a run that writes started after it (the preview
 * no longer says what applying it would do: preview again); `firstRun`, no run but previews was ever started for
 * the incident, so the preview may be applied as its first run; any other run means a rerun, which is applied only
 * through a proposal another person approves.
 */
export function previewStanding(
  runs: readonly RunRecord[],
  preview: RunRecord,
): { later: RunRecord | undefined; firstRun: boolean } {
  const others = runs.filter((r) => !r.dryRun && r.runId !== preview.runId);
  return { later: others.find((r) => r.startedAt > preview.startedAt), firstRun: others.length === 0 };
}

/**
 * A proposal of the preview `previewRunId` among the incident's runs now (the finance API's propose): it stands on
 * the runs started before the preview; refused (a conflict) when a run that writes started after it, since the
 * preview no longer says what applying it would do. Undefined when the incident has no such run.
 */
export function proposalOfPreview(
  runs: readonly RunRecord[],
  previewRunId: string,
  proposedBy: string,
  reason: string,
  now: Date,
): Proposal | undefined {
  const preview = runs.find((r) => r.runId === previewRunId);
  if (!preview) return undefined;
  const { later } = previewStanding(runs, preview);
  if (later)
    throw new ProposalRefusedError(
      `run ${later.runId} started after the preview ${previewRunId}: the preview no longer says what applying it ` +
        "would do; preview again",
    );
  const before = runs.filter((r) => r.runId !== previewRunId && r.startedAt < preview.startedAt);
  return proposalOf(preview, before, proposedBy, reason, now);
}

/** What the approver brings, and what stands now. */
export interface ApprovalContext {
  /** Who approves: on AWS the caller's IAM principal, never a name sent in a request's body. */
  approver: string;
  /** The incident's runs now. */
  runs: readonly RunRecord[];
  /** The incident's proposals now: another one approved (its run under way) holds this one back. */
  proposals?: readonly Proposal[];
  /** The digests of the incident and snapshot that would be applied now. */
  incidentDigest: string;
  snapshotDigest: string;
}

/** Why `approver` may not approve the proposal, whatever else stands now; undefined when they may. */
export function personRefusal(proposal: Proposal, approver: string): string | undefined {
  if (proposal.state === "approved" && proposal.approvedBy !== undefined && samePerson(approver, proposal.approvedBy))
    return undefined; // its approver again: the approval resumes
  if (proposal.state !== "open")
    return (
      `proposal ${proposal.proposalId} is ${proposal.state}` +
      `${proposal.approvedBy ? ` (approved by ${proposal.approvedBy}${proposal.state === "approved" ? ", who can resume it" : ""})` : ""}` +
      ": only an open proposal can be approved"
    );
  if (approver.trim() === "") return "an approval needs the approver's name";
  if (samePerson(approver, proposal.proposedBy))
    return `${approver.trim()} proposed ${proposal.proposalId}: another person must approve it (four eyes)`;
  if (proposal.previewBy !== undefined && samePerson(approver, proposal.previewBy))
    return `${approver.trim()} ran the preview ${proposal.proposalId} stands on: another person must approve it (four eyes)`;
  return undefined;
}

/**
 * What a refusal that leaves a proposal useless says to do: a proposal's id comes from its preview (one proposal a
 * preview), so proposing that preview again is refused; a new one is needed.
 */
export const PREVIEW_AGAIN = "preview again (a new dry run) and propose that preview";

/** Why a proposal may not be applied now, or undefined when it may. */
export function approvalRefusal(proposal: Proposal, now: ApprovalContext): string | undefined {
  const person = personRefusal(proposal, now.approver);
  if (person) return person;
  // An approval resumed by its approver stands on the runs as they were, its own run (requested by the proposal
  // id) apart.
  const own = runIdOf(proposal.incidentId, proposal.proposalId);
  // A run requested or under way (not yet a writer) and another approved proposal (its run requested or soon) would
  // write before or beside this one's run: two approvals of one incident would both pass the check below.
  const going = now.runs.find(
    (r) => !r.dryRun && r.runId !== own && (r.status === "requested" || r.status === "running"),
  );
  if (going)
    return (
      `run ${going.runId} of incident ${proposal.incidentId} is ${going.status}: no proposal may be applied beside ` +
      `it; once it has ended, ${PREVIEW_AGAIN}`
    );
  const rival = now.proposals?.find((p) => p.proposalId !== proposal.proposalId && p.state === "approved");
  if (rival)
    return (
      `proposal ${rival.proposalId} of incident ${proposal.incidentId} is approved (by ${rival.approvedBy}) and not ` +
      `settled: one proposal at a time; once it is settled, ${PREVIEW_AGAIN}`
    );
  const writers = writersOf(now.runs.filter((r) => r.runId !== own));
  if (writers.join("\n") !== (proposal.writers ?? []).join("\n")) {
    const moved = writers.find((w) => !(proposal.writers ?? []).includes(w)) ?? "a run";
    return (
      `run ${moved.split(" ")[0]} of incident ${proposal.incidentId} came, ended or was resumed after the preview (which ` +
      `stood on ${proposal.baseRunId ?? "no run"}): the preview no longer says what applying it would do; ${PREVIEW_AGAIN}`
    );
  }
  if (now.incidentDigest !== proposal.incidentDigest)
    return `the incident is not the one previewed (its SHA-256 differs): ${PREVIEW_AGAIN}`;
  if (now.snapshotDigest !== proposal.snapshotDigest)
    return `the snapshot ${proposal.snapshotName} is not the one previewed (its SHA-256 differs): ${PREVIEW_AGAIN}`;
  return undefined;
}

/** What the applying run did otherwise than its proposal said: counts and totals, each named. */
export function differencesFrom(proposal: Proposal, applied: RunRecord): string[] {
  const out: string[] = [];
  if (applied.status !== "completed")
    out.push(`the run is ${applied.status}${applied.error ? `: ${applied.error}` : ""}`);
  const counts = applied.counts;
  for (const k of Object.keys(proposal.counts) as (keyof RecordedCounts)[])
    if (counts?.[k] !== proposal.counts[k])
      out.push(`${k} ${counts?.[k] ?? "none"} where the preview had ${proposal.counts[k]}`);
  const key = (t: TotalLine) => `${t.serviceCode ?? "goodwill"} ${t.currency}`;
  const text = (t: TotalLine | undefined) => (t ? `${t.lines} lines, ${t.amount}` : "nothing");
  const previewed = new Map(proposal.totals.map((t) => [key(t), t]));
  const got = new Map((applied.totals ?? []).map((t) => [key(t), t]));
  for (const k of new Set([...previewed.keys(), ...got.keys()])) {
    const [p, g] = [previewed.get(k), got.get(k)];
    if (p?.lines !== g?.lines || String(p?.amount) !== String(g?.amount))
      out.push(`owed for ${k}: ${text(g)} where the preview had ${text(p)}`);
  }
  return out;
}

/** The reason an approved proposal's run is recorded with: the proposal's own, then whose proposal and approval. */
export function appliedReason(approved: Proposal): string {
  return `${approved.reason} (proposal ${approved.proposalId} by ${approved.proposedBy}, approved by ${approved.approvedBy})`;
}

/**
 * Approves and applies a proposal: refused (ProposalRefusedError) unless `approvalRefusal` finds nothing; then
 * marked approved (on the condition it is still open: one approval wins), applied by `apply` (the pipeline, with
 * the proposal id as its request id: a retried approval resumes the same run), and settled as applied when the
 * run reproduced the proposal, or failed (and thrown: ProposalNotReproducedError) when it did not.
 */
export async function approveProposal(
  store: ProposalStore,
  proposal: Proposal,
  now: ApprovalContext,
  apply: (proposal: Proposal) => Promise<RunRecord>,
  resumable: (error: unknown) => boolean = () => false,
  at: () => Date = () => new Date(),
): Promise<Proposal> {
  const approved = await markApproved(store, proposal, now, at);
  return settleApproved(store, approved, apply, resumable);
}

/**
 * `personRefusal` as an error of its kind: a proposal no longer open is a conflict, an approver without a name
 * invalid, and its proposer (or anyone the same person by `samePerson`) forbidden. Undefined when they may approve.
 */
export function approverRefusal(proposal: Proposal, approver: string): ProposalRefusedError | undefined {
  const why = personRefusal(proposal, approver);
  if (why === undefined) return undefined;
  const kind: RefusalKind = proposal.state !== "open" ? "conflict" : approver.trim() === "" ? "invalid" : "forbidden";
  return new ProposalRefusedError(why, kind);
}

/**
 * Approves a proposal without applying it: refused (ProposalRefusedError, of its kind) unless `approvalRefusal`
 * finds nothing, then marked approved on the condition it is still open (one approval wins). A proposal its
 * approver approved already comes back as it is (the approval resumes: the same run, by the proposal id). The
 * finance API applies it by starting a run that complete settles (`settleProposalRun`); `approveProposal` applies
 * it at once.
 */
export async function markApproved(
  store: ProposalStore,
  proposal: Proposal,
  now: ApprovalContext,
  at: () => Date = () => new Date(),
): Promise<Proposal> {
  const person = approverRefusal(proposal, now.approver);
  if (person) throw person;
  const refusal = approvalRefusal(proposal, now);
  if (refusal) throw new ProposalRefusedError(refusal);
  // Its approver again, after an approval stopped while applying it: checked as above, the same run resumes.
  if (proposal.state === "approved") return proposal;
  const approved: Proposal = {
    ...proposal,
    state: "approved",
    approvedBy: now.approver,
    approvedAt: at().toISOString(),
  };
  if (!(await store.updateProposal(approved, "open")))
    throw new ProposalRefusedError(`proposal ${proposal.proposalId} was approved by someone else meanwhile`);
  return approved;
}

/**
 * Applies an approved proposal (or resumes its run, when an approval stopped part-way) and settles it: applied
 * when the run read the previewed incident and snapshot and reproduced its counts and totals, else failed and
 * thrown. An error `resumable` says a resume can recover leaves it approved.
 */
export async function settleApproved(
  store: ProposalStore,
  approved: Proposal,
  apply: (proposal: Proposal) => Promise<RunRecord>,
  resumable: (error: unknown) => boolean = () => false,
): Promise<Proposal> {
  let run: RunRecord;
  try {
    run = await apply(approved);
  } catch (e) {
    // Stopped (a signal, the database gone, a full disk): left approved, for its approver to resume. Failed: so
    // recorded, unless that cannot be written either; the run's own error is the news.
    if (!resumable(e))
      await store
        .updateProposal({ ...approved, state: "failed", failure: (e as Error).message }, "approved")
        .catch(() => undefined);
    throw e;
  }
  const differences = appliedDifferences(approved, run);
  const settled: Proposal = {
    ...approved,
    appliedRunId: run.runId,
    state: differences.length === 0 ? "applied" : "failed",
    ...(differences.length > 0 ? { failure: differences.join("; ") } : {}),
  };
  await store.updateProposal(settled, "approved");
  if (differences.length > 0) throw new ProposalNotReproducedError(settled, differences);
  return settled;
}

/**
 * What a run that applied a proposal did otherwise than previewed: `differencesFrom`, and first the inputs it
 * read, should they not be the previewed ones (the approval pins them; this holds it to that).
 */
export function appliedDifferences(proposal: Proposal, applied: RunRecord): string[] {
  const out: string[] = [];
  if (applied.incidentDigest !== proposal.incidentDigest)
    out.push(`the incident's SHA-256 is ${applied.incidentDigest} where the preview's was ${proposal.incidentDigest}`);
  if (applied.status === "completed" && applied.snapshotDigest !== proposal.snapshotDigest)
    out.push(`the snapshot's SHA-256 is ${applied.snapshotDigest} where the preview's was ${proposal.snapshotDigest}`);
  return [...out, ...differencesFrom(proposal, applied)];
}

/** A proposal settled by the end of its run, and what the run did not reproduce (none when applied). */
export interface Settlement {
  proposal: Proposal;
  differences: string[];
}

/**
 * Settles the proposal a run applies (`run.proposalId`) once the run has ended: the finance API's approval starts
 * the run and answers; complete (or fail) settles. Completed and reproducing the preview: `applied`. Completed
 * otherwise: `failed`, with the differences (the run's changes stand: loud, see docs/operations.md). Failed:
 * `failed`, with the run's error. A proposal `failed` already by its own run (fail-run came first, or its run
 * could not start), whose run then completed after all, is settled again from what the run did. Undefined when
 * there is nothing to settle: no proposal, a run not ended, or a proposal settled already as it would be now (a
 * retried step).
 */
export async function settleProposalRun(store: ProposalStore, run: RunRecord): Promise<Settlement | undefined> {
  if (run.proposalId === undefined || (run.status !== "completed" && run.status !== "failed")) return undefined;
  const proposal = await store.getProposal(run.incidentId, run.proposalId);
  if (!proposal) return undefined;
  const ownRun = proposal.appliedRunId === run.runId || run.runId === runIdOf(proposal.incidentId, proposal.proposalId);
  const failedEarlier = proposal.state === "failed" && ownRun && run.status === "completed";
  if (proposal.state !== "approved" && !failedEarlier) return undefined;
  const failed = run.status === "failed";
  const differences = failed ? [] : appliedDifferences(proposal, run);
  const failure = failed
    ? `run ${run.runId} failed: ${run.error ?? "unknown error"}`
    : differences.length > 0
      ? differences.join("; ")
      : undefined;
  const { failure: _earlier, ...unsettled } = proposal;
  const settled: Proposal = {
    ...unsettled,
    appliedRunId: run.runId,
    state: failure === undefined ? "applied" : "failed",
    ...(failure === undefined ? {} : { failure }),
  };
  // A retried complete finds its own settlement: nothing new to say (nor to count again).
  if (failedEarlier && settled.state === "failed" && settled.failure === proposal.failure) return undefined;
  if (!(await store.updateProposal(settled, proposal.state))) return undefined;
  return { proposal: settled, differences };
}

/**
 * An approved proposal whose run could not be started (its snapshot gone, its request id taken by another
 * request): marked failed with why, on the condition it is still approved, and only while its run (`run`, the
 * record under the proposal's run id now) does not exist or has failed: a run that exists may yet end, and
 * settle it. Returns the proposal as stored after. Nothing was applied; preview again.
 */
export async function failApproved(
  store: ProposalStore,
  approved: Proposal,
  failure: string,
  run: RunRecord | undefined,
): Promise<Proposal> {
  if (run === undefined || run.status === "failed")
    await store.updateProposal({ ...approved, state: "failed", failure }, "approved");
  return (await store.getProposal(approved.incidentId, approved.proposalId)) ?? approved;
}
