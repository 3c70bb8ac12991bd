import { builtinModules } from "node:module";
import { build, type Metafile } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { BUNDLING } from "../../../infra/constructs/hiwari-function";

/** Bytes of the bundle that come from files under `node_modules/<name>/`. */
function bytesFrom(output: Metafile["outputs"][string], name: string): number {
  let bytes = 0;
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    if (path.includes(`node_modules/${name}/`)) bytes += bytesInOutput;
  }
  return bytes;
}

describe("BUNDLING", () => {
  it("leaves no module external, so the AWS SDK v3 is bundled rather than taken from the runtime", () => {
    // Assess (the options themselves: the stack tests skip bundling)
    expect(BUNDLING.externalModules).toEqual([]);
  });

  describe("compute-batch bundled with these options (as NodejsFunction runs the local esbuild)", () => {
    let output: Metafile["outputs"][string];

    beforeAll(async () => {
      // Prepare, Act: the function with the most dependencies, built the way CDK builds it.
      const result = await build({
        entryPoints: [new URL("../../../functions/compute-batch/handler.ts", import.meta.url).pathname],
        bundle: true,
        platform: "node",
        target: "node22",
        format: "esm",
        minify: BUNDLING.minify,
        external: BUNDLING.externalModules,
        mainFields: BUNDLING.mainFields,
        banner: { js: BUNDLING.banner ?? "" },
        write: false,
        metafile: true,
        outfile: "index.mjs",
        logLevel: "silent",
      });
      output = Object.values(result.metafile.outputs)[0] as Metafile["outputs"][string];
    });

    it("imports nothing at run time but Node's built-in modules", () => {
      // Assess
      const builtins = new Set(builtinModules);
      const imported = output.imports.filter((i) => i.external).map((i) => i.path.replace(/^node:/, ""));
      expect(imported.filter((path) => !builtins.has(path))).toEqual([]);
    });

    it("holds the SDK clients it calls", () => {
      // Assess
      expect(bytesFrom(output, "@aws-sdk/client-dynamodb")).toBeGreaterThan(0);
      expect(bytesFrom(output, "@aws-sdk/client-s3")).toBeGreaterThan(0);
    });

    it("holds zod tree-shaken: about 90 KB, not the 443 KB of all of it", () => {
      // Assess
      expect(bytesFrom(output, "zod")).toBeGreaterThan(0);
      expect(bytesFrom(output, "zod")).toBeLessThan(150 * 1024);
    });
  });
});
