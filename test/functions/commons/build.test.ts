import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { BUILD } from "../../../functions/commons/build";
import { BUNDLING } from "../../../infra/constructs/hiwari-function";
import { sourceBuild } from "../../../scripts/source-build.mjs";
import { SOURCE_BUILD } from "../../../shared/pipeline/run-steps";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** A tree with hiwari's layout: one source in each folder the build hashes, and a lock file. */
function tree(source: string): string {
  const root = mkdtempSync(join(tmpdir(), "hiwari-build-"));
  for (const dir of ["shared", "functions", "bin"]) mkdirSync(join(root, dir));
  writeFileSync(join(root, "shared", "rule.ts"), source);
  writeFileSync(join(root, "functions", "handler.ts"), "export {};\n");
  writeFileSync(join(root, "bin", "cli.ts"), "export {};\n");
  writeFileSync(join(root, "package-lock.json"), "{}\n");
  return root;
}

describe("BUILD", () => {
  it("is SOURCE_BUILD run from the sources, as in these tests (no bundle stamped it)", () => {
    expect(process.env.HIWARI_BUILD).toBeUndefined();
    expect(BUILD).toBe(SOURCE_BUILD);
  });

  it("is the hash of the sources in a function's bundle, as the CDK bundles it", async () => {
    // Act: this very module through esbuild with the functions' define
    const out = await build({
      entryPoints: [join(ROOT, "functions/commons/build.ts")],
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      define: BUNDLING.define ?? {},
      logLevel: "silent",
    });
    const text = out.outputFiles[0]?.text ?? "";

    // Assert
    const hash = sourceBuild(ROOT);
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(text).toContain(`var BUILD = ${JSON.stringify(hash)}`);
    expect(text).not.toContain("HIWARI_BUILD");
  });

  it("changes with any byte of a source, and only with the sources", () => {
    const a = tree("export const fee = 310;\n");
    const b = tree("export const fee = 311;\n");
    const same = tree("export const fee = 310;\n");
    mkdirSync(join(same, "docs"));
    writeFileSync(join(same, "docs", "notes.md"), "not a source\n");

    expect(sourceBuild(a)).not.toBe(sourceBuild(b));
    expect(sourceBuild(same)).toBe(sourceBuild(a));
    writeFileSync(join(same, "package-lock.json"), '{"lockfileVersion":3}\n');
    expect(sourceBuild(same)).not.toBe(sourceBuild(a));
  });
});
