import { spawnSync } from "node:child_process";

/** `hiwari compute` as users run it, through tsx (no build needed; its workers inherit tsx), with `env` added. */
export function computeCli(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "bin/hiwari.ts", "compute", ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The same, with files limited to `kib` KiB (bash's `ulimit -f` counts in units of 1,024 bytes): a write past it
 * fails with EFBIG, as on a full disk.
 */
export function computeWithFilesUpTo(kib: number, env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(
    "bash",
    ["-c", `ulimit -f ${kib} && exec "$0" --import tsx bin/hiwari.ts compute "$@"`, process.execPath, ...args],
    { encoding: "utf8", env: { ...process.env, ...env } },
  );
  return { status: r.status, stderr: r.stderr };
}
