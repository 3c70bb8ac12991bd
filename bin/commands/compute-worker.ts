// A worker thread of `hiwari compute` (see compute-threads.ts): its part of the first pass (ids' fingerprints), then
// byte ranges of the second, one at a time, reading the file itself, posting their lines back (buffers transferred,
// not copied, and handed back once written) with their counts.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { idsOfPart, RangeEngine, type RangeOutput, type RangeSetup } from "../../shared/engine/fast/fast-engine";
import type { Incident } from "../../shared/input/incident";
import { toCsvRow, toJsonLine } from "../../shared/output/line-format";
import type { WorkerReply, WorkerTask } from "./compute-threads";
import { postedError } from "./posted-error";

const CHUNK = 1 << 22;
const { path, format } = workerData as { path: string; format: "jsonl" | "csv" };
const port = parentPort as NonNullable<typeof parentPort>;
const chunk = new Uint8Array(CHUNK);
let engine: RangeEngine | undefined;

/** The bytes `[start, end)` of the file, 4 MiB at a time, into one reused buffer. */
function* chunksOf(fd: number, start: number, end: number): Iterable<Uint8Array> {
  for (let at = start; at < end; ) {
    const read = readSync(fd, chunk, 0, Math.min(CHUNK, end - at), at);
    if (read === 0) return;
    at += read;
    yield chunk.subarray(0, read);
  }
}

port.on("message", async (task: WorkerTask) => {
  if ("recycle" in task) {
    engine?.recycle(task.recycle);
    return;
  }
  let reply: WorkerReply;
  const fd = openSync(path, "r");
  try {
    if ("ids" in task) {
      const start = Math.max(0, task.ids.start - 1);
      const ids = await idsOfPart(chunksOf(fd, start, fstatSync(fd).size), task.ids);
      port.postMessage({ ids } satisfies WorkerReply, [ids.fingerprints.buffer as ArrayBuffer]);
      return;
    }
    engine ??= new RangeEngine(
      task.incident as Incident,
      format === "csv" ? toCsvRow : toJsonLine,
      path,
      task.setup as RangeSetup,
    );
    const result = await engine.run(chunksOf(fd, task.range.start, task.range.end), (output: RangeOutput) => {
      const transfer: ArrayBuffer[] = [output.bytes.buffer as ArrayBuffer];
      if (output.marks) transfer.push(output.marks.ids.buffer as ArrayBuffer);
      port.postMessage({ output } satisfies WorkerReply, transfer);
    });
    reply = { result };
  } catch (e) {
    // Its class's name and fields too: the main thread rebuilds the errors the command names (posted-error.ts).
    reply = { error: postedError(e) };
  } finally {
    closeSync(fd);
  }
  port.postMessage(reply);
});
