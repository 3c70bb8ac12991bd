import { ProposalRequestError } from "../api/proposal-request";
import { RunRequestError } from "../api/run-request";
import { CompactStringSetFullError } from "../collections/compact-string-set";
import { UnusableSnapshotError } from "../engine/snapshot-header";
import type { PermanentError } from "../errors";
import { IncidentError } from "../input/incident";
import {
  ConcurrentChangeError,
  LockLostError,
  RequestMismatchError,
  RunLockedError,
  StoreValidationError,
} from "../store/refund-store";
import { ProposalNotReproducedError, ProposalRefusedError } from "./proposal";
import { IncidentChangedError, MissingBatchesError, UnaccountedRowsError } from "./run-steps";
import { SnapshotChangedError, UnsafeSnapshotError } from "./survey-snapshot";

/** A class whose instances are permanent errors, whatever its constructor's parameters. */
type PermanentErrorClass = abstract new (...args: never[]) => PermanentError;

/**
 * Every error class of hiwari's that retrying cannot mend (extends `PermanentError`): the state machine fails a run
 * at once on any of them. A test enumerates every exported subclass under shared/ and functions/ and holds this list
 * equal to them, so a new permanent error cannot be missed (test/shared/pipeline/permanent-errors.test.ts).
 */
export const PERMANENT_ERROR_CLASSES: readonly PermanentErrorClass[] = [
  UnsafeSnapshotError,
  UnusableSnapshotError,
  SnapshotChangedError,
  IncidentError,
  IncidentChangedError,
  RunRequestError,
  RunLockedError,
  LockLostError,
  RequestMismatchError,
  ConcurrentChangeError,
  StoreValidationError,
  MissingBatchesError,
  UnaccountedRowsError,
  CompactStringSetFullError,
  ProposalRequestError,
  ProposalRefusedError,
  ProposalNotReproducedError,
];

/**
 * Errors thrown by libraries, not hiwari, that retrying cannot mend. `ZodError`: each run Lambda parses its event
 * with a zod schema (`ExecutionInputSchema.parse` in prepare-run, the Map's batch in compute-batch, the run's
 * reference in finalize-run), and an event that fails its schema is resent unchanged by a retry. It is zod's
 * error, not mapped to one of ours: mapping would take a wrapper in every handler to rename one error.
 */
export const FOREIGN_PERMANENT_ERRORS = ["ZodError"] as const;

/**
 * The error names the state machine's retriers match to fail a run at once (a Lambda reports an error's `name` as
 * its `errorType`): every class of `PERMANENT_ERROR_CLASSES`, by name, and `FOREIGN_PERMANENT_ERRORS`.
 */
export function permanentErrorNames(): string[] {
  return [...PERMANENT_ERROR_CLASSES.map((c) => c.name), ...FOREIGN_PERMANENT_ERRORS];
}
