// A stand-in for bin/commands/compute-worker.ts, started by startWorkers in test/bin/commands/compute.threads.test.ts:
// it answers through the same messages, each range as its start says. A range from 0 writes a buffer of lines and
// is computed; from 1 it fails with a CompactStringSetFullError; from 2 with a system error (ENOENT, as a file that
// went missing); the first pass's part fails with an UnusableSnapshotError. Errors are posted as the real one does.
import { parentPort } from "node:worker_threads";
import type { WorkerReply, WorkerTask } from "../../bin/commands/compute-threads";
import { postedError } from "../../bin/commands/posted-error";
import { CompactStringSetFullError } from "../../shared/collections/compact-string-set";
import { UnusableSnapshotError } from "../../shared/engine/snapshot-header";

const port = parentPort as NonNullable<typeof parentPort>;
const post = (reply: WorkerReply) => port.postMessage(reply);

port.on("message", (task: WorkerTask) => {
  if ("recycle" in task) return;
  if ("ids" in task) {
    post({ error: postedError(new UnusableSnapshotError("subs.csv: line 1: the header lacks subscription_id")) });
    return;
  }
  switch (task.range.start) {
    case 0:
      post({ output: { bytes: new TextEncoder().encode("a line\n") } });
      post({
        result: {
          counts: { rows: 1, computed: 1, skipped: 0, rejected: 0, lines: 1, goodwillLines: 0 },
          totals: [],
          rejects: [],
          lineFeeds: 1,
        },
      });
      return;
    case 1:
      post({ error: postedError(new CompactStringSetFullError(107_372_544, 4_294_901_760, 4_294_901_760, 40)) });
      return;
    default:
      post({
        error: postedError(
          Object.assign(new Error("ENOENT: no such file or directory, open 'subs.csv'"), {
            code: "ENOENT",
            syscall: "open",
            errno: -2,
          }),
        ),
      });
  }
});
