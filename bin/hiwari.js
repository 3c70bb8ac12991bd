#!/usr/bin/env node
// The `hiwari` command: a shim over the bundle that `npm ci` (prepare) and `npm run build` write to dist/.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/hiwari.mjs", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write("hiwari: dist/hiwari.mjs is missing; run `npm ci` or `npm run build` first\n");
  process.exit(2);
}
// The AWS SDK warns on every start that its 2027 releases will need Node 22. The Lambdas run on nodejs22.x; the
// command line still supports Node 20, so that one warning is left out of its output (set before the SDK loads).
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  if (String(warning).startsWith("NodeVersionSupportWarning")) return;
  emitWarning(warning, ...rest);
};
// The Lambda handlers `hiwari run` invokes in process use Powertools, built when the bundle loads: errors only in a
// terminal, no CloudWatch metrics to flush, no X-Ray (set before the bundle loads; the caller's values win).
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
process.env.POWERTOOLS_TRACE_ENABLED ??= "false";
await import(bundle.href);
