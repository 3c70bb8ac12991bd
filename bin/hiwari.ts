import { Command, CommanderError, Option } from "commander";
import { EXIT, InterruptedError, LocalStateError, UsageError } from "./usage-error";

// The handlers `hiwari run` and the console run in process carry Powertools' Tracer, whose X-Ray SDK, in its default
// (automatic) mode, hooks every promise of the process from the moment it loads (cls-hooked's async hooks: about
// 0.3 s of CPU in a dry run of the sample). The Tracer is off outside Lambda, so nothing here needs the hooks; set
// before any command's module loads. An AWS_XRAY_MANUAL_MODE the caller set is left as it is.
process.env.AWS_XRAY_MANUAL_MODE ??= "1";

// Each command's module is loaded when it runs: `compute` starts without the AWS SDK, Powertools and the rest.
const commands = {
  compute: () => import("./commands/compute"),
  console: () => import("./commands/console"),
  finance: () => import("./commands/finance"),
  proposals: () => import("./commands/proposals"),
  rerun: () => import("./commands/rerun"),
  run: () => import("./commands/run"),
};

/** An error the operating system reported (it has a code such as ENOSPC and names its system call). */
function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string" && "syscall" in e;
}

// A reader that stops early (`hiwari compute … | head`) closes the pipe: stop quietly with the status a shell
// gives a command ended by SIGPIPE, as other command-line tools do; any other output error is reported.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") process.stderr.write(`hiwari: cannot write the output: ${e.message}\n`);
    process.exit(e.code === "EPIPE" ? 141 : EXIT.failure);
  });
}

const program = new Command("hiwari")
  .description("Pro-rated refunds (日割り) for paid monthly services that were suspended.")
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`hiwari: ${text.replace(/^error: /, "")}`) });

program
  .command("compute")
  .description("Compute the refund lines of an incident over a subscriptions snapshot. Pure: no database, no network.")
  .requiredOption("--incident <file>", "the incident (JSON)")
  .requiredOption("--subscriptions <file>", "the subscriptions snapshot (CSV with a header row)")
  .addOption(new Option("--format <format>", "output format").choices(["jsonl", "csv"]).default("jsonl"))
  .option("--out <file>", "write lines to this file (created only when the run succeeds); default stdout")
  .option("--rejects <file>", "write rejected rows (JSON lines) to this file; default stderr")
  .option("--summary", "print counts and totals per service and currency to stderr at the end")
  .addOption(
    new Option(
      "--engine <engine>",
      "fast: reads the snapshot as bytes; reference: record by record, the engine the fast one is tested against (same output); plain: the former name of reference",
    )
      .choices(["fast", "reference", "plain"])
      .default("fast"),
  )
  .addHelpText(
    "after",
    `
Output: data for programs, exact: JSON lines, or with --format csv the contract's ten columns (RFC 4180, CRLF,
a header row, null as an empty cell), every value as computed and every id as the snapshot gives it. An id such as
=HYPERLINK(...) or +1+1 is written as it is: a spreadsheet would run it as a formula, so do not open this CSV in
Excel. For people, hiwari report writes the stored lines as CSV that is safe to open.

Exit status: 0 all rows accepted; 3 some rows rejected (every valid row still computed);
2 unusable arguments, incident or header (nothing written to --out).

Threads: a snapshot of 128 MiB or more (about 2M rows) is computed on worker threads, one a core; the output is
the same bytes. HIWARI_THREADS=N sets how many (0 or 1: none, one thread).

Examples:
  hiwari compute --incident examples/spmode-2011/incident.json \\
                 --subscriptions examples/spmode-2011/subscriptions.csv --out refunds.jsonl
  hiwari compute --incident incident.json --subscriptions subs.csv --format csv --out refunds.csv --rejects rejects.jsonl`,
  )
  .action(async (options) => {
    process.exitCode = await (await commands.compute()).compute(options);
  });

const STATE = ["--state <dir>", "the local state folder (DynamoDB Local data, events, run files)", ".hiwari"] as const;

program
  .command("run")
  .description(
    "Run an incident end to end on this machine: store the lines in DynamoDB Local, reconcile with what is stored, publish the changes as events.",
  )
  .requiredOption("--incident <file>", "the incident (JSON)")
  .requiredOption("--subscriptions <file>", "the subscriptions snapshot (CSV with a header row)")
  .option(...STATE)
  .option(
    "--reason <text>",
    `why this run (kept in the run's history); required once the incident has runs (its first run: "initial run")`,
  )
  .option("--by <name>", "who asked for it; default your user name on this machine")
  .option(
    "--request-id <id>",
    "idempotency key: the same request finds the same run (resumes one that died); default a new one",
  )
  .option("--batch-size <rows>", "rows per batch; default 5,000 (LOCAL_BATCH_SIZE in bin/commands/run.ts)")
  .option("--dry-run", "compute the same counts, totals and changes, write no line")
  .option("--json", "print the run record as JSON")
  .addHelpText(
    "after",
    `
Exit status: 0 done; 3 done, some rows rejected (their stored lines are kept); 2 unusable arguments, incident,
header, a rerun without --reason, or another run holds the incident; 1 failed (the run is recorded as failed and
its lock released).

Progress goes to stderr: on a terminal, each phase (DynamoDB Local starting, prepare, batches, finalize,
publishing) as it goes; otherwise one line per phase once it is done, with its time. A dry run publishes nothing.

Examples:
  hiwari run --incident examples/spmode-2011/incident.json --subscriptions examples/spmode-2011/subscriptions.csv
  hiwari run --incident corrected.json --subscriptions snapshot.csv --reason "window ended 14:00, not 15:00" --dry-run`,
  )
  .action(async (options) => {
    process.exitCode = await (await commands.run()).run(options);
  });

const INCIDENT_ID = ["--incident-id <id>", "the incident id"] as const;
/** The spelling these commands took before `--incident-id` (`--incident` names a file in run and compute). */
const OLD_INCIDENT = new Option("--incident <id>", "the incident id (old spelling of --incident-id)").hideHelp();

/** The incident id given, by `--incident-id` or by the old `--incident` (with a notice). */
function incidentIdOf(command: string, options: { incidentId?: string; incident?: string }): string {
  if (options.incidentId) return options.incidentId;
  if (options.incident) {
    process.stderr.write(
      `hiwari ${command}: --incident is spelled --incident-id here (--incident names the incident's file in run ` +
        "and compute); the old spelling still works for now\n",
    );
    return options.incident;
  }
  throw new UsageError(`hiwari ${command}: required option '--incident-id <id>' not specified`);
}

const STATUS_READ = `
Exit status: 0 done; 2 unusable arguments, or no such incident in the state folder (the ones there are listed);
1 failed (DynamoDB Local, the disk, a damaged state file: named, with how to recover).`;

program
  .command("runs")
  .description("List an incident's runs: who, why, when, counts and totals (also while a run goes).")
  .option(...INCIDENT_ID)
  .addOption(OLD_INCIDENT)
  .option(...STATE)
  .option("--json", "print the run records as JSON")
  .addHelpText(
    "after",
    `${STATUS_READ}

Examples:
  hiwari runs --incident-id SPMODE-2011-12
  hiwari runs --incident-id SPMODE-2011-12 --state /data/hiwari --json`,
  )
  .action(async (options) => {
    const incidentId = incidentIdOf("runs", options);
    process.exitCode = await (await commands.finance()).runs({ ...options, incidentId });
  });

program
  .command("report")
  .description("Write the incident's standing lines as CSV for the books (safe to open in Excel), and print totals.")
  .option(...INCIDENT_ID)
  .addOption(OLD_INCIDENT)
  .option(...STATE)
  .option("--out <file>", "write the CSV here; default stdout")
  .addHelpText(
    "after",
    `
Output: for people, safe to open in Excel (UTF-8 with a byte-order mark, CRLF). A cell that a spreadsheet would
run as a formula (it starts with = + - @, a tab or a carriage return) is written with ' before it, so an id shown
there may differ from the events' id. To join on an id, use the key after it: subscriptionKey, subscriberKey (the
id percent-encoded as in lineId, a leading - as %2D; decodeURIComponent gives the id exactly); to join on a line,
lineId (the events' lineId; their eventId is lineId#version). Columns: docs/operations.md, "The report".
Data for programs, exact: the events, or hiwari compute (its CSV is not for Excel).
${STATUS_READ}

Examples:
  hiwari report --incident-id SPMODE-2011-12 --out spmode-2011-12.csv`,
  )
  .action(async (options) => {
    const incidentId = incidentIdOf("report", options);
    process.exitCode = await (await commands.finance()).report({ ...options, incidentId });
  });

program
  .command("unlock")
  .description("Release the lock of a run that died holding it (an operator's recovery; see docs/operations.md).")
  .option(...INCIDENT_ID)
  .addOption(OLD_INCIDENT)
  .option(...STATE)
  .addHelpText(
    "after",
    `
Exit status: 0 released (the run is marked abandoned) or nothing was locked; 2 unusable arguments; 1 failed (the
state folder is in use by a hiwari process: stop it first).

Example:
  hiwari unlock --incident-id SPMODE-2011-12`,
  )
  .action(async (options) => {
    const incidentId = incidentIdOf("unlock", options);
    process.exitCode = await (await commands.finance()).unlock({ ...options, incidentId });
  });

program
  .command("propose")
  .description(
    "Preview a run (a dry run) and record it as a proposal: another person applies it with hiwari approve (four eyes).",
  )
  .requiredOption("--incident <file>", "the incident (JSON)")
  .requiredOption("--subscriptions <file>", "the subscriptions snapshot (CSV with a header row)")
  .option(...STATE)
  .requiredOption("--reason <text>", "why this correction (kept with the proposal and the run that applies it)")
  .option("--by <name>", "who proposes it; default your user name on this machine")
  .option("--batch-size <rows>", "rows per batch; default 5,000 (LOCAL_BATCH_SIZE in bin/commands/run.ts)")
  .addHelpText(
    "after",
    `
Exit status: 0 proposed; 3 proposed, some rows rejected; 2 unusable arguments, incident or header, a run of the
incident is going, or another run holds it; 1 failed.

Example:
  hiwari propose --incident corrected.json --subscriptions snapshot.csv --reason "window ended 14:00" --by alice`,
  )
  .action(async (options) => {
    const [{ propose }, { userName }] = await Promise.all([commands.proposals(), commands.run()]);
    process.exitCode = await propose({ ...options, by: options.by ?? userName() });
  });

program
  .command("approve")
  .description(
    "Apply a proposal as another person than its proposer, if nothing it was computed from changed; the run must reproduce its counts and totals.",
  )
  .requiredOption("--incident-id <id>", "the incident id")
  .requiredOption("--proposal <id>", "the proposal id (hiwari proposals lists them)")
  .option(...STATE)
  .option("--by <name>", "who approves it (not its proposer); default your user name on this machine")
  .addHelpText(
    "after",
    `
Exit status: 0 applied, the counts and totals the preview's; 2 refused (the proposer, a run since, another
incident or snapshot, not open); 1 the run failed or did not reproduce the preview (the proposal is marked failed).

Example:
  hiwari approve --incident-id SPMODE-2011-12 --proposal prop-0123456789abcdef0123 --by bob`,
  )
  .action(async (options) => {
    const [{ approve }, { userName }] = await Promise.all([commands.proposals(), commands.run()]);
    process.exitCode = await approve({ ...options, by: options.by ?? userName() });
  });

program
  .command("proposals")
  .description("List an incident's proposals: who proposed what, its preview's counts and totals, who approved it.")
  .requiredOption("--incident-id <id>", "the incident id")
  .option(...STATE)
  .option("--json", "print the proposals as JSON")
  .action(async (options) => {
    process.exitCode = await (await commands.proposals()).proposals(options);
  });

const API = [
  "--api <url>",
  "the finance API's URL with its stage, e.g. https://abc123.execute-api.ap-northeast-1.amazonaws.com/prod",
] as const;
const REGION = [
  "--region <region>",
  "AWS region to sign for; default the one in the --api host, else AWS_REGION",
] as const;

program
  .command("rerun")
  .description(
    "Ask the deployed finance API to run (or rerun) an incident over a snapshot in S3. Signed with your AWS credentials.",
  )
  .requiredOption(...API)
  .requiredOption("--incident <file>", "the incident (JSON), checked here before it is sent")
  .requiredOption("--snapshot <s3-uri>", "the subscriptions snapshot, as s3://bucket/key")
  .option("--snapshot-version <id>", "the S3 version of the snapshot to use; default the latest")
  .requiredOption("--reason <text>", "why this run (kept in the run's history)")
  .option("--dry-run", "compute the same counts, totals and changes, write no line")
  // The API's bounds (MIN_BATCH_SIZE, MAX_BATCH_SIZE, DEFAULT_BATCH_SIZE in shared/api/run-request.ts), written out:
  // importing them would load zod before every command.
  .option("--batch-size <rows>", "rows per batch (100 to 2,000); default the API's, 1,000")
  .option(
    "--request-id <id>",
    "idempotency key: sending the same request again finds the same run; default a new one, printed to reuse",
  )
  .option(...REGION)
  .option("--json", "print the API's answer as JSON")
  .addHelpText(
    "after",
    `
Credentials: the standard AWS chain (AWS_PROFILE after \`aws sso login\`, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ...).

Exit status: 0 accepted (started now, or found: the same request was made before); 2 unusable arguments or
incident, or refused by the API as it stands (400, 404, 409: fix it, or use a new request id); 1 not done:
access refused (403), the API failed or could not be reached (retry with the same --request-id).

Examples:
  hiwari rerun --api https://abc123.execute-api.ap-northeast-1.amazonaws.com/prod --incident corrected.json \\
               --snapshot s3://hiwari-snapshots/2011-12/subscriptions.csv --reason "window ended 14:00" --dry-run
  hiwari rerun --api $HIWARI_API --incident corrected.json --snapshot s3://hiwari-snapshots/2011-12/subscriptions.csv \\
               --reason "window ended 14:00" --request-id 3f0c6b1e-9d2a-4c1b-8f7e-2a5d9c4b7e10`,
  )
  .action(async (options) => {
    process.exitCode = await (await commands.rerun()).rerun(options);
  });

program
  .command("api-runs")
  .description("List an incident's runs as the deployed finance API stores them, or show one run.")
  .requiredOption(...API)
  .requiredOption("--incident-id <id>", "the incident id")
  .option("--run-id <id>", "show this run only")
  .option(...REGION)
  .option("--json", "print the run records as JSON")
  .addHelpText(
    "after",
    `
Credentials: the standard AWS chain (AWS_PROFILE after \`aws sso login\`, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ...).

Exit status: 0 listed (or the run shown); 2 unusable arguments, or refused by the API as it stands (400, 404: no
such run); 1 not done: access refused (403), the API failed or could not be reached (retry).

Examples:
  hiwari api-runs --api https://abc123.execute-api.ap-northeast-1.amazonaws.com/prod --incident-id SPMODE-2011-12
  hiwari api-runs --api $HIWARI_API --incident-id SPMODE-2011-12 --run-id run-0123456789abcdef0123 --json`,
  )
  .action(async (options) => {
    process.exitCode = await (await commands.rerun()).apiRuns(options);
  });

program
  .command("console")
  .description(
    "Serve the web console over the state folder: incidents, runs, previews with charts, proposals and approvals (four eyes).",
  )
  .option(...STATE)
  .option("--port <n>", "the port to listen on (0: a free one)", "4780")
  .option("--host <host>", "loopback address to bind (127.0.0.1, localhost or ::1)", "127.0.0.1")
  .addHelpText(
    "after",
    `
It starts DynamoDB Local under --state (as run does) and holds the folder until stopped (Ctrl-C); runs, report and
proposals still read it meanwhile. Every action is the CLI's own: a preview is run --dry-run, a proposal is propose,
an approval is approve (by another person than the proposer).

Exit status: 0 stopped by Ctrl-C or SIGTERM; 2 unusable arguments (a port in use, a host that is not loopback).

Example:
  hiwari console --state .hiwari --port 4780     # then open http://127.0.0.1:4780/`,
  )
  .action(async (options) => {
    process.exitCode = await (await commands.console()).startConsole(options);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (e instanceof UsageError) {
    process.stderr.write(`hiwari: ${e.message}\n`);
    process.exitCode = EXIT.usage;
  } else if (e instanceof InterruptedError) {
    process.stderr.write(`hiwari: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else if (e instanceof LocalStateError) {
    // DynamoDB Local died, or a state file cannot be what hiwari left: named, with how to recover.
    process.stderr.write(`hiwari: ${e.message}\n`);
    process.exitCode = EXIT.failure;
  } else if (isSystemError(e)) {
    // The machine refused (a full disk, a lost file): its own words, no stack trace; not a fault of hiwari's.
    process.stderr.write(`hiwari: ${e.message}\n`);
    process.exitCode = EXIT.failure;
  } else {
    process.stderr.write(`hiwari: internal error: ${(e as Error).stack ?? e}\n`);
    process.exitCode = EXIT.failure;
  }
}
