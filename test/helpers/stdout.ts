/** Runs `act` with the process's stdout swallowed (a command's report), and returns what `act` returns. */
export async function quiet<T>(act: () => Promise<T>): Promise<T> {
  return (await captureStdout(act)).result;
}

/** Runs `act`, capturing what it writes to the process's stdout instead of printing it. */
export async function captureStdout<T>(act: () => Promise<T>): Promise<{ result: T; out: string }> {
  let out = "";
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: await act(), out };
  } finally {
    process.stdout.write = write;
  }
}
