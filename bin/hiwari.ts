import { Command, CommanderError, Option } from "commander";
import { compute } from "./commands/compute";
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
