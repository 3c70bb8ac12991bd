import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

// Test paths mirror source paths (docs: style, "Tests"): `shared/x/y.ts` is tested by `test/shared/x/y.test.ts`, or
// by files beside it named `y.<aspect>.test.ts` (`reference-engine.properties.test.ts`). This guard fails when a
// source file under shared/, functions/ or bin/ has neither and is not exempt below with its reason.

const ROOT = join(import.meta.dirname, "..");
const SOURCE_FOLDERS = ["shared", "functions", "bin"];

/**
 * Source files without a mirrored test, each with why: types only, a wiring module whose behaviour a named test
 * covers, or code whose test lives elsewhere (named). Remove the entry when the file gets its own test: an entry for
 * a file that has one, or for a file that no longer exists, fails this guard too.
 */
const EXEMPT: Record<string, string> = {
  "bin/commands/compute-threads.ts": "hiwari compute's worker pool: test/bin/commands/compute.threads.test.ts",
  "bin/commands/compute-worker.ts":
    "a worker thread of hiwari compute: run by test/bin/commands/compute.threads.test.ts",
  "bin/console/pages.ts": "the console's HTML pages: rendered and checked through test/bin/console/server.test.ts",
  "bin/console/run-files.ts": "the console's reading of a run's files: through test/bin/console/server.test.ts",
  "bin/console/web/charts.ts":
    "browser code (its own tsconfig): drawn in the page test of test/bin/console/server.test.ts",
  "bin/hiwari.ts": "the CLI's commander wiring: every command is spawned through it by test/bin/commands/*.test.ts",
  "bin/io/drain-outputs.ts":
    "the local bus's event files: test/bin/commands/run.test.ts and run-local-failures.test.ts",
  "bin/io/file-byte-source.ts": "a file as a byte source: read by every test/bin/commands/compute.test.ts case",
  "bin/io/file-record-source.ts": "a file's CSV records: read by every test/bin/commands/compute.test.ts case",
  "bin/io/local-run-files.ts": "a local run's folder and files: test/bin/commands/run.test.ts and run-resume.test.ts",
  "bin/io/stream-text-writer.ts": "stdout/--out text with backpressure: test/bin/commands/compute.test.ts",
  "bin/usage-error.ts":
    "exit-status-2 errors and their messages: asserted by test/bin/commands/*.test.ts and test/bin/io/*",
  "functions/commons/bus/event-bus.ts":
    "EventBridge PutEvents with retries: test/functions/publish-events/publish-records.test.ts",
  "functions/commons/bus/record-parking.ts":
    "parking of unpublishable records: test/functions/publish-events/publish-records.test.ts",
  "functions/commons/dynamodb/retry-settings.ts":
    "SDK retry constants: exercised by dynamodb-refund-store.faults.test.ts",
  "functions/commons/environment.ts": "wiring of the store from env vars: the handler tests build their own",
  "functions/commons/powertools/middleware.ts": "middy wiring of Powertools: test/functions/logs.test.ts",
  "functions/commons/powertools/powertools.ts": "Logger/Metrics/Tracer instances: test/functions/logs.test.ts",
  "functions/commons/runtime.ts":
    "the handlers' dependencies on S3: test/helpers/pipeline-harness.ts builds them for every handler test",
  "functions/prepare-run/handler.ts":
    "a thin adapter: test/functions/compute-batch/handler.test.ts and finalize-run/handler.test.ts run it",
  "functions/publish-events/handler.ts":
    "a thin adapter over publish-records.ts: test/functions/publish-events/publish-records.test.ts",
  "functions/start-run/start-requested-run.ts": "the start-run flow: test/functions/start-run/handler.test.ts",
  "shared/api/proposal-request.ts":
    "the proposal body's schema: test/functions/proposals-api/handler.test.ts (400 answers)",
  "shared/csv/plain-line-index.wasm.ts":
    "the module's bytes, built from plain-line-index.wat: test/shared/csv/plain-line-index.test.ts checks they are current",
  "shared/engine/refund-line.ts": "types only",
  "shared/events/event-names.ts": "constants only: the event schemas in test/shared/events/refund-events.test.ts",
  "shared/input/where.ts":
    "contract v2 `where`: test/shared/input/incident.test.ts and test/shared/engine/reference/reference-engine.scope*.test.ts",
  "shared/rules/rule.ts": "types and the 30-day constant, asserted in test/shared/rules/exact.test.ts",
};

/** Every .ts source (not .d.ts) under the source folders, as a path from the repository root with `/`. */
function sources(): string[] {
  return SOURCE_FOLDERS.flatMap((folder) =>
    readdirSync(join(ROOT, folder), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
      .map((f) => `${folder}/${f.split("\\").join("/")}`),
  ).sort();
}

/** Whether `source` has a mirrored test: `test/<path>.test.ts` or `test/<path>.<aspect>.test.ts`. */
function hasMirroredTest(source: string): boolean {
  const base = source.slice(0, -".ts".length);
  const folder = join(ROOT, "test", dirname(source));
  if (existsSync(join(ROOT, "test", `${base}.test.ts`))) return true;
  if (!existsSync(folder)) return false;
  const name = base.slice(base.lastIndexOf("/") + 1);
  return readdirSync(folder).some((f) => f.startsWith(`${name}.`) && f.endsWith(".test.ts"));
}

describe("mirrored tests", () => {
  it("every source under shared/, functions/ and bin/ has a test at its mirrored path, or an exemption", () => {
    const missing = sources().filter((s) => !hasMirroredTest(s) && !(s in EXEMPT));
    expect(missing, "add test/<path>.test.ts, or an entry in EXEMPT with its reason").toEqual([]);
  });

  it("exempts only files that exist and still lack a mirrored test, each with a one-line reason", () => {
    const all = new Set(sources());
    const stale = Object.keys(EXEMPT).filter((s) => !all.has(s) || hasMirroredTest(s));
    expect(stale, "remove these entries from EXEMPT").toEqual([]);
    for (const [source, reason] of Object.entries(EXEMPT)) expect(reason.trim(), source).toMatch(/^[^\n]{8,}$/);
  });

  it("finds the mirrored test beside a source, with or without an aspect in its name", () => {
    expect(hasMirroredTest("shared/money/rounding.ts")).toBe(true);
    expect(hasMirroredTest("shared/engine/reference/reference-engine.ts")).toBe(true); // also reference-engine.*.test.ts
    expect(hasMirroredTest("shared/engine/refund-line.ts")).toBe(false);
    // A prefix of another file's name is not its test: reference.ts is not tested by reference-engine.test.ts
    expect(hasMirroredTest("shared/engine/reference/reference.ts")).toBe(false);
  });
});
