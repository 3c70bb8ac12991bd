/**
 * The base of hiwari's own errors: a message, the error it wraps as `cause` (ES2022), and whether retrying can mend
 * it. `permanent`: the same call fails again until someone changes something (a snapshot, an incident, a lock held
 * by another run), so the state machine fails the run at once and says why. Not permanent (transient): the same
 * call may pass later on its own (throttling, no answer yet), so a run's step is retried with backoff. Extend
 * `PermanentError` or `TransientError`, never this class directly.
 *
 * NOTE: each subclass sets `this.name` to its class name as a string literal. The Lambda runtime reports an error's
 * `name` as its `errorType`, which the state machine's retriers match, and the Lambdas' bundles are minified: a name
 * taken from the class (`new.target.name`, the default here) would be the minifier's. A test holds every subclass
 * to it (test/shared/pipeline/permanent-errors.test.ts).
 */
export abstract class HiwariError extends Error {
  abstract readonly permanent: boolean;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An error retrying cannot mend: a run fails at once (the state machine's retriers name every subclass). */
export abstract class PermanentError extends HiwariError {
  readonly permanent = true;
}

/** An error a later attempt may not meet: a run's step is retried with backoff. */
export abstract class TransientError extends HiwariError {
  readonly permanent = false;
}
