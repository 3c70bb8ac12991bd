/** A mistake in how the command was called or in the incident: exit status 2, a message, no stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The local state failed in a way hiwari can name (DynamoDB Local died, a state file is damaged): exit status 1,
 * the message (what failed, and how to recover), no stack trace.
 */
export class LocalStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LocalStateError";
  }
}

/** Thrown for a state file that cannot be what hiwari left: the message names it and says how to recover. */
export class DamagedStateError extends LocalStateError {
  constructor(message: string) {
    super(message);
    this.name = "DamagedStateError";
  }
}

/** A run stopped on SIGINT or SIGTERM after its writes in flight: exit 128 + the signal's number (130, 143). */
export class InterruptedError extends Error {
  readonly exitCode: number;
  constructor(
    readonly signal: "SIGINT" | "SIGTERM",
    message: string,
  ) {
    super(message);
    this.name = "InterruptedError";
    this.exitCode = signal === "SIGINT" ? 130 : 143;
  }
}

export const EXIT = { ok: 0, failure: 1, usage: 2, rejected: 3 } as const;
