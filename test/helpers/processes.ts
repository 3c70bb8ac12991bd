import { execFileSync } from "node:child_process";

/**
 * Pids of the processes whose command line names `text` (a DynamoDB Local's data folder, say), the test's own
 * process left out. `pgrep` exits 1 when none does.
 */
export function processesNaming(text: string): number[] {
  try {
    return execFileSync("pgrep", ["-f", text], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    return [];
  }
}
