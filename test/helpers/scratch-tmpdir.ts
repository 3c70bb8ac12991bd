import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Vitest's global setup: one folder for everything the suite puts in the temporary directory, removed when the run
 * ends, pass or fail. The tests make their folders with `mkdtempSync(join(tmpdir(), …))` (about fifty files), and
 * many leave them (a state folder that a test kills a process over, DynamoDB Local's data): a few runs of the suite
 * left thousands in /tmp. `os.tmpdir()` reads TMPDIR each time it is called, and the test workers (and the commands
 * they spawn) are started after this runs, with this environment, so their folders land here.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "hiwari-tests-"));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    } catch (e) {
      // A tmpfs a failed test left mounted (EBUSY), a process still writing: the suite's result stands.
      process.stderr.write(`could not remove the tests' temporary folder ${root}: ${(e as Error).message}\n`);
    }
  };
}
