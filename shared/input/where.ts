import * as z from "zod";
import { holdsInvalidUtf8 } from "../csv/utf8-decoder";
import { SUBSCRIPTION_COLUMNS, shown } from "./subscription-row";

/**
 * A `where` of contract v2 (`suspensions[i].where`, `goodwill.where`): per extra column of the snapshot, the cells
 * that match. A row matches when, for every column, its cell (as written after CSV unquoting, no trimming) is one
 * of the listed strings.
 */
export type Where = ReadonlyMap<string, ReadonlySet<string>>;

export const MAX_WHERE_KEYS = 16;
export const MAX_WHERE_KEY_LENGTH = 64;
export const MAX_WHERE_VALUES = 1000;
export const MAX_WHERE_VALUE_LENGTH = 128;

/** Unicode code points in a string (the contract's lengths). */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

const CONTRACT_COLUMNS: ReadonlySet<string> = new Set(SUBSCRIPTION_COLUMNS);

/**
 * The schema of one `where` (zod): every rule of the contract, each fault reported at its path
 * (`suspensions[0].where.plan`, `…where.plan[2]`, or the `where` itself), then the object as a Where.
 */
export const WhereSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      ctx.addIssue({ code: "custom", message: "must be an object: extra column → list of strings" });
      return;
    }
    const keys = Object.keys(value);
    if (keys.length === 0) ctx.addIssue({ code: "custom", message: "must name at least one column" });
    if (keys.length > MAX_WHERE_KEYS)
      ctx.addIssue({
        code: "custom",
        message: `must name at most ${MAX_WHERE_KEYS} columns (it names ${keys.length})`,
      });
    for (const key of keys) {
      if (key === "") {
        ctx.addIssue({ code: "custom", message: "a column name must not be empty" });
        continue;
      }
      if (codePointLength(key) > MAX_WHERE_KEY_LENGTH) {
        ctx.addIssue({
          code: "custom",
          message: `the column name ${shown(key)} is longer than ${MAX_WHERE_KEY_LENGTH} characters`,
        });
        continue;
      }
      if (CONTRACT_COLUMNS.has(key)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: "is one of the nine contract columns: a where names only extra columns",
        });
        continue;
      }
      const list = (value as Record<string, unknown>)[key];
      if (!Array.isArray(list)) {
        ctx.addIssue({ code: "custom", path: [key], message: "must be a non-empty list of strings" });
        continue;
      }
      if (list.length === 0) ctx.addIssue({ code: "custom", path: [key], message: "must hold at least one string" });
      if (list.length > MAX_WHERE_VALUES)
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `must hold at most ${MAX_WHERE_VALUES.toLocaleString("en-US")} strings (it holds ${list.length.toLocaleString("en-US")})`,
        });
      list.forEach((item, i) => {
        if (typeof item !== "string") ctx.addIssue({ code: "custom", path: [key, i], message: "must be a string" });
        else if (codePointLength(item) > MAX_WHERE_VALUE_LENGTH)
          ctx.addIssue({
            code: "custom",
            path: [key, i],
            message: `must be at most ${MAX_WHERE_VALUE_LENGTH} characters`,
          });
      });
    }
  })
  .transform((value): Where => {
    const where = new Map<string, ReadonlySet<string>>();
    for (const [key, list] of Object.entries(value as Record<string, string[]>)) where.set(key, new Set(list));
    return where;
  });

/** A `where` of the incident with the path that names it in messages (`suspensions[0].where`, `goodwill.where`). */
export interface PlacedWhere {
  path: string;
  where: Where;
}

/**
 * Where each column a `where` names stands in the header; undefined when every column is there, once. Otherwise
 * the first fault, naming the `where`'s path and the column.
 */
export function whereColumnsOf(
  names: readonly string[],
  wheres: readonly PlacedWhere[],
): { ok: true; at: ReadonlyMap<string, number> } | { ok: false; reason: string } {
  const at = new Map<string, number>();
  for (const { path, where } of wheres) {
    for (const column of where.keys()) {
      const first = names.indexOf(column);
      if (first === -1) return { ok: false, reason: `${path}.${column}: the header has no column ${shown(column)}` };
      if (names.indexOf(column, first + 1) !== -1)
        return {
          ok: false,
          reason: `${path}.${column}: the column ${shown(column)} appears more than once in the header`,
        };
      at.set(column, first);
    }
  }
  return { ok: true, at };
}

/**
 * Whether a row's cells match a `where`: for every column, its cell is one of the listed strings. A cell that is
 * not valid UTF-8 matches nothing.
 */
export function matchesWhere(where: Where, cells: ReadonlyMap<string, string> | undefined): boolean {
  for (const [column, values] of where) {
    const cell = cells?.get(column);
    if (cell === undefined || !values.has(cell) || holdsInvalidUtf8(cell)) return false;
  }
  return true;
}
