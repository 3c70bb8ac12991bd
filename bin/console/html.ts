/**
 * HTML built from template literals: every interpolated value is escaped unless it is already `Html` (made by
 * `html` itself, or `raw` for text known to be markup). Arrays are joined. A small tag instead of a template
 * engine: the console's pages are a handful of tables and forms.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

type Value = Html | string | number | bigint | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0] as string;
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] as string);
  });
  return new Html(out);
}

/** Markup as it is (for text hiwari itself wrote as markup). */
export const raw = (text: string) => new Html(text);

/**
 * JSON for a `<script type="application/json">` element: `<` escaped so that no value can close the element.
 */
export const jsonScript = (id: string, value: unknown) =>
  raw(
    `<script type="application/json" id="${escapeHtml(id)}">${JSON.stringify(value).replace(/</g, "\\u003c")}</script>`,
  );
