import { PermanentError, TransientError } from "../shared/errors";

/** A mistake in how the command was called or in the incident: exit status 2, a message, no stack trace. */
export class UsageError extends PermanentError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** Why a path cannot be written, by the errno code the system gave, in words. */
const CANNOT_WRITE: Record<string, string> = {
  ENOENT: "a folder on its path does not exist",
  ENOTDIR: "a part of its path is a file, not a folder",
  EEXIST: "a part of its path is a file, not a folder", // mkdir of a folder that exists as a file
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  EISDIR: "it is a folder",
};

/**
 * A path given to an option that cannot be written (a missing or read-only folder, a file where a folder should
 * be): a usage error naming the option and the path, in words, or undefined for any other error (a full disk is
 * not a mistake in the command: bin/io/disk-space.ts names it).
 */
export function cannotWrite(option: string, path: string, error: unknown): UsageError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const why = code ? CANNOT_WRITE[code] : undefined;
  return why ? new UsageError(`${option} ${path}: cannot write there: ${why} (${code})`, { cause: error }) : undefined;
}

/**
 * The local state failed in a way hiwari can name (DynamoDB Local died, a state file is damaged): exit status 1,
 * the message (what failed, and how to recover), no stack trace.
 */
export class LocalStateError extends PermanentError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LocalStateError";
  }
}

/** Thrown for a state file that cannot be what hiwari left: the message names it and says how to recover. */
export class DamagedStateError extends LocalStateError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DamagedStateError";
  }
}

/** A run stopped on SIGINT or SIGTERM after its writes in flight: exit 128 + the signal's number (130, 143). */
export class InterruptedError extends TransientError {
  readonly exitCode: number;
  constructor(
    readonly signal: "SIGINT" | "SIGTERM",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "InterruptedError";
    this.exitCode = signal === "SIGINT" ? 130 : 143;
  }
}

export const EXIT = { ok: 0, failure: 1, usage: 2, rejected: 3 } as const;
