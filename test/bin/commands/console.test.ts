import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const hiwari = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "bin/hiwari.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
  });

describe("hiwari console's arguments", () => {
  it("binds loopback only: another host is refused (exit 2) before anything starts", () => {
    const state = join(mkdtempSync(join(tmpdir(), "hiwari-console-args-")), "state");
    const out = hiwari("console", "--state", state, "--host", "0.0.0.0");
    expect(out.stderr).toBe(
      "hiwari: --host: the console binds loopback only (127.0.0.1, localhost, ::1); got 0.0.0.0\n",
    );
    expect(out.status).toBe(2);
    expect(existsSync(state)).toBe(false);
  });

  it("refuses a port that is not one (exit 2)", () => {
    const out = hiwari("console", "--port", "http");
    expect(out.stderr).toBe("hiwari: --port: must be a whole number from 0 to 65535 (got http)\n");
    expect(out.status).toBe(2);
  });
});
