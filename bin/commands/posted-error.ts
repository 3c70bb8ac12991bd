// An error crossing from a worker thread of `hiwari compute` to the main thread: a worker posts it as plain values
// (postedError), the main thread makes an error of it again (rebuiltError). Apart from compute-threads.ts, which the
// worker's bundle cannot load (it finds the worker's file from import.meta.url).
import { CompactStringSetFullError } from "../../shared/collections/compact-string-set";
import { UnusableSnapshotError } from "../../shared/engine/snapshot-header";

/** An error as a worker posts it: its class's name, message and stack, and its own fields that are plain values. */
export interface PostedError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, string | number | boolean | bigint>;
}

/** What a worker posts for an error it met (see `rebuiltError`). */
export function postedError(e: unknown): PostedError {
  if (!(e instanceof Error)) return { name: "Error", message: String(e), fields: {} };
  const fields: PostedError["fields"] = {};
  for (const [key, value] of Object.entries(e)) {
    if (["string", "number", "boolean", "bigint"].includes(typeof value)) fields[key] = value;
  }
  return { name: e.name, message: e.message, stack: e.stack, fields };
}

/**
 * The errors a worker may meet that the command names for people (see compute.ts): rebuilt as their own class, so
 * that on worker threads they end the command as they do on one thread (a UsageError, exit 2), not as a fault.
 */
const REBUILT: Record<string, { prototype: Error }> = {
  CompactStringSetFullError,
  UnusableSnapshotError,
};

/**
 * The error a worker posted, in this thread: of its class when REBUILT names it, else an Error; with its message,
 * its stack (the worker's) and its fields (a system error's code and syscall: named without a stack, as on one thread).
 */
export function rebuiltError(posted: PostedError): Error {
  const error: Error = Object.create((REBUILT[posted.name] ?? Error).prototype);
  Object.assign(error, posted.fields);
  Object.defineProperties(error, {
    name: { value: posted.name, writable: true, configurable: true },
    message: { value: posted.message, writable: true, configurable: true },
    stack: { value: posted.stack ?? `${posted.name}: ${posted.message}`, writable: true, configurable: true },
  });
  return error;
}
