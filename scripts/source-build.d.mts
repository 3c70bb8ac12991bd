/** 16 hex digits of SHA-256 over hiwari's sources (shared/, functions/, bin/) and package-lock.json, under `root`. */
export function sourceBuild(root?: string): string;
