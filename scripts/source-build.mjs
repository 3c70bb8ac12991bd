// Which build of hiwari a bundle is: a hash of its sources and locked dependencies, stamped into the command line's
// bundle (scripts/build.mjs) and the functions' (infra/constructs/hiwari-function.ts) as `process.env.HIWARI_BUILD`.
// A run trusts its count of stored lines only while every step of it runs the build its prepare ran
// (shared/pipeline/run-steps.ts, `StepDeps.build`): code that changed between two attempts of a step may produce
// other lines (docs/data-model.md, "The count of stored lines").
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const SOURCES = ["shared", "functions", "bin"];
const LOCK = "package-lock.json";

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

/** 16 hex digits of SHA-256 over every source file (path and bytes, in path order) and the lock file. */
export function sourceBuild(root = process.cwd()) {
  const hash = createHash("sha256");
  const files = [...SOURCES.flatMap((dir) => filesUnder(join(root, dir))), join(root, LOCK)];
  for (const file of files.map((f) => relative(root, f)).sort()) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(join(root, file)));
  }
  return hash.digest("hex").slice(0, 16);
}
