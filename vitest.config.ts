import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Every temporary folder of the run in one, removed at its end (test/helpers/scratch-tmpdir.ts).
    globalSetup: ["test/helpers/scratch-tmpdir.ts"],
    // Generous: the suite must pass with both cores busy with other work, where a test that spawns the command line
    // or starts DynamoDB Local (a JVM) takes several times what it does on an idle machine. Files that spawn more
    // set more.
    testTimeout: 120_000,
    // A worker per core, at least two: vitest's default leaves one core free, which on a 2-core machine runs the
    // files one at a time while most of them wait on DynamoDB Local (measured: 302 s → 268 s for the suite).
    maxWorkers: Math.max(2, availableParallelism()),
    hookTimeout: 240_000,
    // The handlers' Powertools, set before any module builds its Logger: quiet, no metrics to flush, no tracing.
    env: {
      POWERTOOLS_LOG_LEVEL: "SILENT",
      POWERTOOLS_METRICS_DISABLED: "true",
      POWERTOOLS_TRACE_ENABLED: "false",
      // DynamoDB Local (a JVM started per state folder, dozens of times) starts about twice as fast on a loaded
      // machine with the client compiler alone and the serial collector (measured on 2 loaded cores: 12–23 s →
      // 5–12 s); the tests' tables are tiny. The JVM notes the setting on its stderr, read by hiwari only for errors.
      JAVA_TOOL_OPTIONS: [process.env.JAVA_TOOL_OPTIONS, "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"]
        .filter(Boolean)
        .join(" "),
    },
  },
});
