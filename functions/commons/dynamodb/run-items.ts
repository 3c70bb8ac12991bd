import type { Proposal } from "../../../shared/pipeline/proposal";
import type { BatchSummary, RunRecord, ShardBook } from "../../../shared/store/refund-store";
import { type Item, KEYS } from "./line-item";

/**
 * The items of a run, as the DynamoDB store writes them (and `npm run bench:scale` sizes them): the incident's
 * lock, the run record and the batch records with their shard books in the runs table, and the item whose stored
 * change becomes `Refund Run Completed` in the refunds table. Keys: docs/data-model.md.
 */

/** The partition of a run's batch records, and (with a shard) of its books in that shard. */
export const batchPartition = (runId: string) => `RUN#${runId}`;
export const bookPartition = (runId: string, shard: number) => `RUN#${runId}#SHARD#${shard}`;

/** A batch's sort key: its number, zero-padded so that the records sort in batch order. */
const batchKey = (batchNo: number) => `BATCH#${String(batchNo).padStart(7, "0")}`;
/** The batch number in a batch's or a book's sort key (`batchKey`). */
export const batchNoOfKey = (sk: string): number => Number(sk.slice("BATCH#".length));

/** The lock of an incident, held by a run until `expiresAt` (epoch ms). */
export const lockKey = (incidentId: string): Item => ({
  [KEYS.pk]: { S: `INCIDENT#${incidentId}` },
  [KEYS.sk]: { S: "LOCK" },
});

export const lockItem = (incidentId: string, runId: string, expiresAt: number): Item => ({
  ...lockKey(incidentId),
  runId: { S: runId },
  expiresAt: { N: String(expiresAt) },
});

export const runItem = (run: RunRecord): Item => ({
  [KEYS.pk]: { S: `INCIDENT#${run.incidentId}` },
  [KEYS.sk]: { S: `RUN#${run.runId}` },
  startedAt: { S: run.startedAt },
  status: { S: run.status },
  run: { S: JSON.stringify(run) },
});

export const batchItem = (incidentId: string, runId: string, summary: BatchSummary): Item => ({
  [KEYS.pk]: { S: batchPartition(runId) },
  [KEYS.sk]: { S: batchKey(summary.batchNo) },
  incidentId: { S: incidentId },
  summary: { S: JSON.stringify(summary) },
});

/** A build of hiwari that ran a step of the run (`RefundStore.noteBuild`): one item per build, under the run. */
export const buildItem = (runId: string, build: string): Item => ({
  [KEYS.pk]: { S: buildsPartition(runId) },
  [KEYS.sk]: { S: `BUILD#${build}` },
  build: { S: build },
});
export const buildsPartition = (runId: string) => `RUN#${runId}#BUILDS`;

export const bookItem = (runId: string, batchNo: number, shard: number, book: ShardBook): Item => ({
  [KEYS.pk]: { S: bookPartition(runId, shard) },
  [KEYS.sk]: { S: batchKey(batchNo) },
  book: { S: JSON.stringify(book) },
});

/** In the refunds table: written once, its stream record becomes `Refund Run Completed`. */
export const runCompletedItem = (run: RunRecord): Item => ({
  [KEYS.pk]: { S: `${run.incidentId}#RUN#${run.runId}` },
  [KEYS.sk]: { S: "COMPLETED" },
  kind: { S: "RUN_COMPLETED" },
  incidentId: { S: run.incidentId },
  runId: { S: run.runId },
  run: { S: JSON.stringify(run) },
});

/** A proposal (four eyes), beside its incident's runs. */
export const proposalItem = (proposal: Proposal): Item => ({
  [KEYS.pk]: { S: `INCIDENT#${proposal.incidentId}` },
  [KEYS.sk]: { S: `PROPOSAL#${proposal.proposalId}` },
  state: { S: proposal.state },
  proposedAt: { S: proposal.proposedAt },
  proposal: { S: JSON.stringify(proposal) },
});
