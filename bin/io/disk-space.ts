import { existsSync, statfsSync } from "node:fs";
import { dirname, join } from "node:path";
import { UnprocessedItemsError } from "../../functions/commons/dynamodb/dynamodb-refund-store";
import { LocalStateError } from "../usage-error";

/**
 * Below this many free bytes, a DynamoDB Local failure without a reason (a 500, `InternalFailure`, or items handed
 * back unprocessed) is taken for a full disk. DynamoDB Local keeps its tables in one SQLite file; SQLite answers a
 * write it has no room for with SQLITE_FULL, which DynamoDB Local turns into "InternalFailure: … unknown error"
 * (or, in a BatchWriteItem, items left unprocessed). By the time hiwari sees it, SQLite has rolled the write back
 * and removed its journal: a few pages are free again (8 KiB on a tmpfs, test/bin/commands/run-disk-full.test.ts).
 * The largest write hiwari makes is a BatchWriteItem of 25 lines of about 1 KB: a few dozen 4 KiB pages with
 * their index, stream and journal pages, well under 1 MiB. So a disk with 1 MiB free had room for the write, and a
 * failure there has another cause: it is left as it is, not called a full disk.
 */
export const LOW_SPACE_BYTES = 1024 * 1024;

/**
 * The bytes this process may still write on the filesystem holding `dir`: the free blocks for root (who may use
 * the blocks a filesystem reserves), the blocks available to others for anyone else.
 */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  const blocks = process.getuid?.() === 0 ? s.bfree : s.bavail;
  return Number(blocks) * Number(s.bsize);
}

/** The errno codes of a write refused for want of space: the disk is full, or the user's quota is. */
const NO_SPACE = new Set(["ENOSPC", "EDQUOT"]);

/** The first error of `error`'s `cause` chain (itself included) whose errno code says there was no space. */
function noSpaceCause(error: unknown): (Error & { code: string }) | undefined {
  const seen = new Set<unknown>();
  for (let e = error; typeof e === "object" && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NO_SPACE.has(code)) return e as Error & { code: string };
  }
  return undefined;
}

/**
 * Whether `error` is DynamoDB Local's answer to a write it could not make for no stated reason: an AWS SDK error
 * named `InternalFailure` or `InternalServerError` (by its name or its `__type`), or one with HTTP status 500; or
 * the refund store giving up on a batch DynamoDB Local kept handing back unprocessed (its BatchWriteItem answers a
 * full disk so: `UnprocessedItemsError`).
 */
export function isInternalFailure(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { name?: unknown; message?: unknown; __type?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const internal = (s: unknown) => typeof s === "string" && /(^|#)(InternalFailure|InternalServerError)$/.test(s);
  if (internal(e.name) || internal(e.__type) || e.$metadata?.httpStatusCode === 500) return true;
  return error instanceof UnprocessedItemsError;
}

/** Free inodes (room for another file) on the filesystem holding `dir`, where it counts them. */
function freeFiles(dir: string): number | undefined {
  try {
    const { files, ffree } = statfsSync(dir);
    return files > 0 ? Number(ffree) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The error a user should see when `error` came from a full disk under the state folder, else undefined: a write
 * refused with ENOSPC (or EDQUOT) anywhere in its cause chain, or a DynamoDB Local internal failure while the disk
 * holding its data (`<state>/dynamodb`) has less than LOW_SPACE_BYTES free. The headline says which: the bytes,
 * the files (inodes), or the user's quota. `then` is what to do once space is freed (the command that resumes the
 * run); `free` measures the free bytes of a folder (statfs; a test passes its own).
 */
export function diskFullError(
  error: unknown,
  stateDir: string,
  then: string,
  free: (dir: string) => number = freeBytes,
): LocalStateError | undefined {
  const dataDir = join(stateDir, "dynamodb");
  const probe = (dir: string) => {
    try {
      return free(existsSync(dir) ? dir : stateDir);
    } catch {
      return undefined; // the folder cannot be measured: not known to be full
    }
  };
  let what: string;
  let headline: string;
  const noSpace = noSpaceCause(error);
  if (noSpace) {
    what = `a write was refused for want of space: ${noSpace.message}`;
    const left = probe(stateDir);
    const bytes = left === undefined ? "" : ` (${left.toLocaleString("en-US")} bytes free)`;
    headline =
      noSpace.code === "EDQUOT"
        ? `the disk quota of the user writing ${stateDir} is used up`
        : freeFiles(existsSync(stateDir) ? stateDir : dirname(stateDir)) === 0
          ? `the disk holding ${stateDir} has no room for another file (no inodes free)`
          : `the disk holding ${stateDir} is full${bytes}`;
  } else if (isInternalFailure(error)) {
    const left = probe(dataDir);
    if (left === undefined || left >= LOW_SPACE_BYTES) return undefined;
    const e = error as Error;
    what = `DynamoDB Local could not write its data under ${dataDir} (${e.name}: ${e.message})`;
    headline = `the disk holding ${stateDir} is full (${left.toLocaleString("en-US")} bytes free)`;
  } else return undefined;
  return new LocalStateError(
    `${headline}: ${what}. Nothing stored was lost: the write the disk refused was not made (line changes are ` +
      "conditional on the version they were computed from; the rest is safe to repeat), what was stored before " +
      "stays stored, and events not yet appended, or cut short, stay in the stream and are appended on resuming. " +
      `Free some space on that disk, then ${then}`,
    { cause: error },
  );
}
