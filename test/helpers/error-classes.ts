/// <reference types="vite/client" />
import { HiwariError } from "../../shared/errors";

export interface ErrorClass {
  /** The class, as its module exports it. */
  cls: abstract new (
    ...args: never[]
  ) => HiwariError;
  /** Its module's path (`../../shared/store/refund-store.ts`) and source text. */
  file: string;
  source: string;
}

// Every source module of shared/ and functions/, imported (eagerly, once per test file) and read as text. The
// globs are literals: vite resolves them when it transforms this file.
const modules = import.meta.glob<Record<string, unknown>>(["../../shared/**/*.ts", "../../functions/**/*.ts"], {
  eager: true,
});
const sources = import.meta.glob<string>(["../../shared/**/*.ts", "../../functions/**/*.ts"], {
  eager: true,
  query: "?raw",
  import: "default",
});

/** The source text of every module under shared/ and functions/, by path. */
export const errorSources = (): Record<string, string> => sources;

/**
 * Every class exported under shared/ and functions/ that extends `HiwariError` (the abstract bases in shared/errors.ts
 * aside), each once however many modules re-export it, with the module that declares it.
 */
export function hiwariErrorClasses(): ErrorClass[] {
  const found = new Map<unknown, ErrorClass>();
  for (const [file, exports] of Object.entries(modules)) {
    const source = sources[file] ?? "";
    for (const value of Object.values(exports)) {
      if (typeof value !== "function" || !(value.prototype instanceof HiwariError)) continue;
      if (!new RegExp(`class ${value.name} extends `).test(source)) continue; // a re-export: found where declared
      if (file.endsWith("/shared/errors.ts")) continue;
      found.set(value, { cls: value as ErrorClass["cls"], file, source });
    }
  }
  return [...found.values()];
}
