import { Command, CommanderError, Option } from "commander";
import { compute } from "./commands/compute";
import { report, runs, unlock } from "./commands/finance";
import { run } from "./commands/run";
import { EXIT, UsageError } from "./usage-error";

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
  .addHelpText(
    "after",
    `
Exit status: 0 all rows accepted; 3 some rows rejected (every valid row still computed);
2 unusable arguments, incident or header (nothing written to --out).

Examples:
  hiwari compute --incident examples/spmode-2011/incident.json \\
                 --subscriptions examples/spmode-2011/subscriptions.csv --out refunds.jsonl
  hiwari compute --incident incident.json --subscriptions subs.csv --format csv --out refunds.csv --rejects rejects.jsonl`,
  )
  .action(async (options) => {
    process.exitCode = await compute(options);
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
  .option("--reason <text>", "why this run (kept in the run's history)", "initial run")
  .option("--by <name>", "who asked for it", process.env.USER ?? "unknown")
  .option(
    "--request-id <id>",
    "idempotency key: the same request finds the same run (resumes one that died); default a new one",
  )
  .option("--batch-size <rows>", "rows per batch", "1000")
  .option("--dry-run", "compute the same counts, totals and changes, write no line")
  .option("--json", "print the run record as JSON")
  .addHelpText(
    "after",
    `
Exit status: 0 done; 3 done, some rows rejected (their stored lines are kept); 2 unusable arguments, incident,
header, or another run holds the incident; 1 failed (the run is recorded as failed and its lock released).

Examples:
  hiwari run --incident examples/spmode-2011/incident.json --subscriptions examples/spmode-2011/subscriptions.csv
  hiwari run --incident corrected.json --subscriptions snapshot.csv --reason "window ended 14:00, not 15:00" --dry-run`,
  )
  .action(async (options) => {
    process.exitCode = await run(options);
  });

program
  .command("runs")
  .description("List an incident's runs: who, why, when, counts and totals.")
  .requiredOption("--incident <id>", "the incident id")
  .option(...STATE)
  .option("--json", "print the run records as JSON")
  .action(async (options) => {
    process.exitCode = await runs(options);
  });

program
  .command("report")
  .description("Write the incident's standing lines as CSV for the books (opens cleanly in Excel), and print totals.")
  .requiredOption("--incident <id>", "the incident id")
  .option(...STATE)
  .option("--out <file>", "write the CSV here; default stdout")
  .action(async (options) => {
    process.exitCode = await report(options);
  });

program
  .command("unlock")
  .description("Release the lock of a run that died holding it (an operator's recovery; see docs/operations.md).")
  .requiredOption("--incident <id>", "the incident id")
  .option(...STATE)
  .action(async (options) => {
    process.exitCode = await unlock(options);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (e instanceof UsageError) {
    process.stderr.write(`hiwari: ${e.message}\n`);
    process.exitCode = EXIT.usage;
  } else {
    process.stderr.write(`hiwari: internal error: ${(e as Error).stack ?? e}\n`);
    process.exitCode = EXIT.failure;
  }
}
