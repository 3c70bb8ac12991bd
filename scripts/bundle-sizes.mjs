// Prints each function bundle's size as NodejsFunction builds it (infra/constructs/hiwari-function.ts BUNDLING:
// minified ESM, nothing external, the AWS SDK v3 included), gzipped (about what the deployment zip holds), and
// what fills it, for docs/performance.md. `npm run bundle:sizes`.
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const entries = {
  "publish-events": "functions/publish-events/handler.ts",
  "start-run": "functions/start-run/handler.ts",
  "proposals-api": "functions/proposals-api/handler.ts",
  "approve-proposal": "functions/approve-proposal/handler.ts",
  "runs-api": "functions/runs-api/handler.ts",
  "prepare-run": "functions/prepare-run/handler.ts",
  "compute-batch": "functions/compute-batch/handler.ts",
  "finalize-run": "functions/finalize-run/handler.ts",
};
/** The package a bundled file comes from; the SDK's many small packages counted as two. */
function packageOf(path) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (!m) return path.split("/")[0];
  return /^@(aws-sdk|smithy)\//.test(m[1]) ? m[1].replace(/\/.*/, "/*") : m[1];
}
const kb = (bytes) => `${(bytes / 1024).toFixed(0)}K`;
for (const [name, entry] of Object.entries(entries)) {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "node",
    target: "node22",
    external: [],
    mainFields: ["module", "main"],
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    write: false,
    metafile: true,
    outfile: "/tmp/x.mjs",
  });
  const out = Object.values(r.metafile.outputs)[0];
  const by = {};
  for (const [path, { bytesInOutput }] of Object.entries(out.inputs)) {
    by[packageOf(path)] = (by[packageOf(path)] ?? 0) + bytesInOutput;
  }
  const top = Object.entries(by)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, v]) => `${k} ${kb(v)}`);
  console.log(name, kb(out.bytes), `(gzip ${kb(gzipSync(r.outputFiles[0].contents).length)})`, "|", top.join(", "));
}
