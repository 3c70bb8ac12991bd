// Bundles the `hiwari` command line into dist/ with the local esbuild (run by `npm ci` through `prepare`).
// Dependencies stay external: they are installed beside it, and bundling CommonJS ones into ESM breaks their require()s.
import { rmSync } from "node:fs";
import { build } from "esbuild";

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
  packages: "external",
  // One chunk per command (bin/hiwari.ts imports them when they run), so a command loads only what it uses.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
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
