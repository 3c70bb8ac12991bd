/** The module's bytes, built from the WebAssembly text at `path` (scripts/build-wasm.mjs). */
export function wasmOf(path: string): Promise<Uint8Array>;
/** The TypeScript module that holds the bytes, as the build writes it. */
export function moduleText(bytes: Uint8Array): string;
