import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The handlers' Powertools, set before any module builds its Logger: quiet, no metrics to flush, no tracing.
    env: { POWERTOOLS_LOG_LEVEL: "SILENT", POWERTOOLS_METRICS_DISABLED: "true", POWERTOOLS_TRACE_ENABLED: "false" },
  },
});
