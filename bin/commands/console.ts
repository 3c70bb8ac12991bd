import { consoleServer } from "../console/server";
import { diskFullError } from "../io/disk-space";
import { openLocalEnvironment } from "../io/local-environment";
import { EXIT, UsageError } from "../usage-error";
import { userName } from "./run";

export interface ConsoleCommandOptions {
  state: string;
  port: string;
  host: string;
}

/** Loopback names the console may bind: it moves money, and has no login of its own. */
const LOOPBACK = ["127.0.0.1", "localhost", "::1"];

/**
 * `hiwari console`: the web console over the state folder (its DynamoDB Local started here, as `run` does, and held
 * until the console stops): incidents, runs, previews with charts, proposals and approvals. Stops on SIGINT or
 * SIGTERM; an action under way stops as `hiwari run` does (after its writes in flight, recorded interrupted).
 */
export async function startConsole(options: ConsoleCommandOptions): Promise<number> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port: must be a whole number from 0 to 65535 (got ${options.port})`);
  if (!LOOPBACK.includes(options.host))
    throw new UsageError(`--host: the console binds loopback only (${LOOPBACK.join(", ")}); got ${options.host}`);
  const env = await openLocalEnvironment(options.state).catch((e: unknown) => {
    throw diskFullError(e, options.state, "start the console again") ?? e;
  });
  const app = consoleServer(env, { state: options.state, by: userName() }); // forms start with the OS user, as --by does
  let url: string;
  try {
    url = await app.listen(port, options.host);
  } catch (e) {
    await env.stop();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE")
      throw new UsageError(`--port: ${options.port} is in use on ${options.host}`, { cause: e });
    throw e;
  }
  process.stdout.write(`hiwari console: ${url} (state ${options.state}); Ctrl-C stops it\n`);
  await new Promise<void>((stopped) => {
    const stop = (signal: string) => {
      // An action under way is a run: it stops as `hiwari run` does on the same signal (after its writes in flight,
      // recorded interrupted); its page resumes it once the console is started again.
      process.stderr.write(
        `hiwari console: ${signal}: stopping (an action under way stops after its writes in flight)\n`,
      );
      app
        .close()
        .finally(() => env.stop())
        .finally(stopped);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return EXIT.ok;
}
