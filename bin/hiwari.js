#!/usr/bin/env node
// The `hiwari` command: a shim over the bundle that `npm ci` (prepare) and `npm run build` write to dist/.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/hiwari.mjs", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write("hiwari: dist/hiwari.mjs is missing; run `npm ci` or `npm run build` first\n");
  process.exit(2);
}
await import(bundle.href);
