import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { processesNaming } from "../../helpers/processes";

async function until(what: string, done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("startDynamoDbLocal", () => {
  it("never outlives the process that started it, even one killed by SIGKILL", { timeout: 120_000 }, async () => {
    // Arrange: a process that starts DynamoDB Local on a data folder of its own, says so, and waits
    const data = join(mkdtempSync(join(tmpdir(), "hiwari-watchdog-")), "dynamodb");
    const script = `import { startDynamoDbLocal } from "./bin/io/dynamodb-local.ts";
      await startDynamoDbLocal(${JSON.stringify(data)});
      process.stdout.write("ready\\n");
      setInterval(() => {}, 1000);`;
    const owner = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((ready, failed) => {
      owner.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && ready());
      owner.once("exit", (code) => failed(new Error(`the owner exited with ${code} before DynamoDB Local was up`)));
    });
    expect(processesNaming(data).length).toBeGreaterThan(0);

    // Act: the owner is killed without a chance to stop anything
    owner.kill("SIGKILL");

    // Assess: DynamoDB Local goes too (the watchdog polls every half second, then SIGTERM, SIGKILL after 5 s)
    await until("DynamoDB Local gone", () => processesNaming(data).length === 0, 30_000);
  });
});
