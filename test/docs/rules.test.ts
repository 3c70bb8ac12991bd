import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { run } from "../helpers/factories";

// Every "### Example:" section of docs/rules.md holds an incident, a snapshot and the lines it must give.
const doc = readFileSync("docs/rules.md", "utf8");
const sections = doc.split(/^### Example: /m).slice(1);
const block = (section: string, kind: string) => {
  const m = new RegExp(`\`\`\`\\w+ example-${kind}\\n([\\s\\S]*?)\`\`\``).exec(section);
  if (!m) throw new Error(`example-${kind} block missing`);
  return m[1] as string;
};
const normalised = (lines: object[]) =>
  lines.map((l) => JSON.stringify(l, (_k, v) => (typeof v === "bigint" ? Number(v) : v))).sort();

describe("docs/rules.md worked examples", () => {
  it("has examples to check", () => {
    expect(sections.length).toBeGreaterThanOrEqual(5);
  });

  it.each(sections.map((s) => [s.split("\n")[0] as string, s]))("%s", async (_title, section) => {
    const incident = JSON.parse(block(section, "incident"));
    const expected = block(section, "lines")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const { lines, rejects } = await run(incident, block(section, "subscriptions"));
    expect(rejects).toEqual([]);
    expect(normalised(lines)).toEqual(normalised(expected));
  });
});
