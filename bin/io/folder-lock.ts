import { randomUUID } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LocalStateError } from "../usage-error";

/** The state folder's lock: one hiwari process (and so one DynamoDB Local) a folder at a time. */
export const FOLDER_LOCK = "hiwari.lock";

/**
 * What the lock holds: its process and since when; once its DynamoDB Local answers, the endpoint, and the creation
 * time of the folder's runs table there (what tells a reader that the instance at that endpoint is this folder's,
 * not another's on a port reused since).
 */
export interface FolderHolder {
  pid?: number;
  since?: string;
  endpoint?: string;
  runsTableCreated?: number;
  /** What a holder of an earlier version announced instead: the refunds table's creation time. */
  tablesCreated?: number;
}

/** The folder is another live process's. */
export class FolderInUseError extends LocalStateError {
  constructor(
    stateDir: string,
    readonly holder: FolderHolder,
  ) {
    super(
      `${stateDir} is in use by another hiwari process (pid ${holder.pid}, since ${holder.since}): wait for it ` +
        `to finish, or stop it; if no such process is hiwari, remove ${join(stateDir, FOLDER_LOCK)}`,
    );
    this.name = "FolderInUseError";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // someone else's process, alive
  }
}

/** What a lock file says, or nothing for one that is gone or cannot be read (left by an earlier hiwari, torn). */
function holderIn(path: string): FolderHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as FolderHolder;
  } catch {
    return undefined;
  }
}

/** Writes `text` to a file beside `path` first, so that `path` appears or changes with all of it at once. */
function whole(path: string, text: string, put: (temp: string) => void): void {
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(temp, text);
  try {
    put(temp);
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * Takes the state folder for this process: `<state>/hiwari.lock` holds its pid (and later its DynamoDB Local's
 * endpoint). The file appears whole (a hard link of a file written beside it: never read empty by another
 * process). A lock whose process is gone (killed) is taken over: moved aside under a name of this process's own
 * first, so that of two processes taking over the same dead lock only one can; one whose process lives is refused
 * at once (FolderInUseError, naming the folder and the pid: two DynamoDB Locals on one data file block each other).
 * Returns how to announce the endpoint, and the release.
 */
export function lockFolder(stateDir: string): { announce(holder: FolderHolder): void; release(): void } {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, FOLDER_LOCK);
  const mine: FolderHolder = { pid: process.pid, since: new Date().toISOString() };
  const text = (holder: FolderHolder) => `${JSON.stringify(holder)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      whole(path, text(mine), (temp) => linkSync(temp, path));
      return {
        announce: (more) => whole(path, text({ ...mine, ...more }), (temp) => renameSync(temp, path)),
        release: () => {
          if (holderIn(path)?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = holderIn(path);
    if (typeof holder?.pid === "number" && alive(holder.pid)) throw new FolderInUseError(stateDir, holder);
    // Its process is gone: moved aside, then looked at again (it may be a live process's lock taken meanwhile).
    const aside = `${path}.${process.pid}.${randomUUID()}.gone`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // another process moved it first
    }
    const moved = holderIn(aside);
    if (typeof moved?.pid === "number" && alive(moved.pid)) {
      try {
        linkSync(aside, path); // not a dead one after all: put back
      } finally {
        rmSync(aside, { force: true });
      }
      throw new FolderInUseError(stateDir, moved);
    }
    rmSync(aside, { force: true });
  }
  throw new FolderInUseError(stateDir, holderIn(path) ?? {});
}
