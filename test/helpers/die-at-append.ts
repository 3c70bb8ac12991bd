/**
 * Loaded with `--import` into a hiwari process under test, this makes it die by SIGKILL at a chosen append to a
 * chosen file, as a kill, a crash or a lid closed at that moment would: `HIWARI_DIE_AT_APPEND=<file name>:<n>:<how>`
 * kills the process at the n-th append to a file of that name, `after` the whole append (before anything else, the
 * stream checkpoint among them, is written) or `torn` half-way through it (a line cut short). Test code only: the
 * product has no such hook.
 */
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { basename } from "node:path";

const spec = process.env.HIWARI_DIE_AT_APPEND;
if (spec) {
  const [file, nth, how] = spec.split(":");
  const append = fs.appendFileSync;
  let calls = 0;
  fs.appendFileSync = ((path: fs.PathOrFileDescriptor, data: string | Uint8Array, options?: fs.WriteFileOptions) => {
    if (typeof path === "string" && basename(path) === file && ++calls === Number(nth)) {
      const bytes = Buffer.from(data);
      // Torn: cut inside a line. Half of a page of equal lines (two events, as a first pass while the run writes
      // may find) would end on a line's end, so a cut there is moved back one byte, into the line.
      let cut = Math.floor(bytes.length / 2);
      if (cut > 0 && bytes[cut - 1] === 0x0a) cut -= 1;
      append(path, how === "torn" ? bytes.subarray(0, cut) : bytes, options);
      process.kill(process.pid, "SIGKILL");
      // A signal to the whole process may be taken by another of its threads while this one runs on a moment (on
      // a loaded machine, long enough to append the rest): it waits here, doing nothing, until the kill lands.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    }
    return append(path, data, options);
  }) as typeof fs.appendFileSync;
  syncBuiltinESMExports();
}
