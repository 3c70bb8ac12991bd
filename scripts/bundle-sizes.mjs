// Prints each function bundle's size (as NodejsFunction builds it: minified ESM, AWS SDK external) and what
// fills it, for docs/performance.md. `npm run bundle:sizes`.
import { build } from "esbuild";

const entries = {
  "publish-events": "functions/publish-events/handler.ts",
  "start-run": "functions/start-run/handler.ts",
  "runs-api": "functions/runs-api/handler.ts",
  "prepare-run": "functions/prepare-run/handler.ts",
  "compute-batch": "functions/compute-batch/handler.ts",
  "finalize-run": "functions/finalize-run/handler.ts",
};
for (const [name, entry] of Object.entries(entries)) {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "node",
    target: "node22",
    external: ["@aws-sdk/*"],
    mainFields: ["module", "main"],
    write: false,
    metafile: true,
    outfile: "/tmp/x.mjs",
  });
  const out = Object.values(r.metafile.outputs)[0];
  const by = {};
  for (const [path, { bytesInOutput }] of Object.entries(out.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const key = m ? m[1] : path.split("/")[0];
    by[key] = (by[key] ?? 0) + bytesInOutput;
  }
  const top = Object.entries(by)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 7)
    .map(([k, v]) => `${k} ${(v / 1024).toFixed(0)}K`);
  console.log(name, `${(out.bytes / 1024).toFixed(0)}K`, "|", top.join(", "));
}
