// Builds shared/csv/plain-line-index.wat into shared/csv/plain-line-index.wasm.ts (the module's bytes as base64),
// with wabt (the WebAssembly Binary Toolkit, compiled to JavaScript). Run it after changing the .wat: `npm run
// build:wasm`. The bytes are committed, so that neither a clone nor a Lambda bundle needs wabt; a test fails when
// they are not what the source builds to (test/shared/csv/plain-line-index.test.ts).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import wabt from "wabt";

/** The module's bytes, built from the WebAssembly text at `path`. */
export async function wasmOf(path) {
  const toolkit = await wabt();
  const module = toolkit.parseWat(path, readFileSync(path, "utf8"), { simd: true });
  try {
    module.validate();
    return Uint8Array.from(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

/** The TypeScript module that holds the bytes. */
export function moduleText(bytes) {
  const base64 = Buffer.from(bytes).toString("base64");
  return (
    "// Built from plain-line-index.wat by scripts/build-wasm.mjs (`npm run build:wasm`); do not edit.\n" +
    // As biome formats it (the string on a line of its own), so that `biome check --write` leaves it as built.
    `export const PLAIN_LINE_INDEX_WASM =\n  "${base64}";\n`
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bytes = await wasmOf("shared/csv/plain-line-index.wat");
  writeFileSync("shared/csv/plain-line-index.wasm.ts", moduleText(bytes));
  console.log(`shared/csv/plain-line-index.wasm.ts: ${bytes.length} bytes of WebAssembly`);
}
