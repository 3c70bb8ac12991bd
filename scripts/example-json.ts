/**
 * JSON as the examples keep it: two-space indentation, and a list of strings on one line, as the project's
 * formatter (Biome) lays it out, so that a generated file is also a formatted one.
 */
export function exampleJson(value: unknown): string {
  const text = JSON.stringify(value, null, 2).replace(
    /\[\n\s+("(?:[^"\\]|\\.)*"(?:,\n\s+"(?:[^"\\]|\\.)*")*)\n\s+\]/g,
    (_, items: string) => `[${items.split(/,\n\s+/).join(", ")}]`,
  );
  return `${text}\n`;
}
