// Bundles the `hiwari` command line into dist/ with the local esbuild (run by `npm ci` through `prepare`).
// Dependencies stay external: they are installed beside it, and bundling CommonJS ones into ESM breaks their require()s.
import { readFileSync, rmSync } from "node:fs";
import { build } from "esbuild";
import { sourceBuild } from "./source-build.mjs";

/** Every package in package.json but `bundled`, and their subpaths: what esbuild leaves as imports. */
function external(bundled) {
  const { dependencies = {}, devDependencies = {} } = JSON.parse(readFileSync("package.json", "utf8"));
  const names = [...Object.keys(dependencies), ...Object.keys(devDependencies)].filter((n) => !bundled.includes(n));
  return names.flatMap((n) => [n, `${n}/*`]);
}

// Chunk names carry a hash of their content: start from an empty folder, so that old chunks do not pile up.
rmSync("dist", { recursive: true, force: true });

await build({
  entryPoints: { hiwari: "bin/hiwari.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Dependencies stay external but for the three `hiwari compute` loads on every start: zod (the incident's schema),
  // temporal-polyfill (zones) and currency-codes, bundled into its chunks so that Node reads a few files instead of
  // resolving and linking a few hundred (about 60 ms of a start).
  external: external(["zod", "temporal-polyfill", "currency-codes"]),
  // One chunk per command (bin/hiwari.ts imports them when they run), so a command loads only what it uses.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  // Which build this is, for the run steps the command runs in process (functions/commons/build.ts).
  define: { "process.env.HIWARI_BUILD": JSON.stringify(sourceBuild()) },
  sourcemap: true,
  logLevel: "warning",
});

// The worker threads of `hiwari compute` (bin/commands/compute-threads.ts finds it beside hiwari.mjs): one file with
// its dependencies (zod, temporal-polyfill, currency-codes) inside, as CommonJS, so that each worker starts without
// resolving and linking hundreds of modules (about 0.1 s of CPU less per worker).
await build({
  entryPoints: { "compute-worker": "bin/commands/compute-worker.ts" },
  outdir: "dist",
  outExtension: { ".js": ".cjs" },
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
});

// The console's charts (`hiwari console`), for the browser: Chart.js with only the parts drawn.
await build({
  entryPoints: { charts: "bin/console/web/charts.ts" },
  outdir: "dist/console",
  bundle: true,
  platform: "browser",
  format: "iife",
  target: "es2022",
  minify: true,
  logLevel: "warning",
});
