/** A mistake in how the command was called or in the incident: exit status 2, a message, no stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const EXIT = { ok: 0, failure: 1, usage: 2, rejected: 3 } as const;
