/**
 * `opsc`: the command-line door. Each command lives in commands/ and only
 * translates flags into calls to the engine.
 */
import { Command, CommanderError } from "commander";
import { EXIT } from "../core/exit-codes.js";
import { reportError } from "./report-error.js";
// command imports (one line each, keep sorted)
import { register as registerApprove } from "./commands/approve.js";
import { register as registerAudit } from "./commands/audit.js";
import { register as registerDiff } from "./commands/diff.js";
import { register as registerDiscover } from "./commands/discover.js";
import { register as registerDrift } from "./commands/drift.js";
import { register as registerImport } from "./commands/import.js";
import { register as registerInit } from "./commands/init.js";
import { register as registerLibraries } from "./commands/libraries.js";
import { register as registerOnPush } from "./commands/on-push.js";
import { register as registerPlan } from "./commands/plan.js";
import { register as registerRun } from "./commands/run.js";
import { register as registerRuns } from "./commands/runs.js";
import { register as registerSecrets } from "./commands/secrets.js";
import { register as registerServe } from "./commands/serve.js";
import { register as registerTargets } from "./commands/targets.js";
import { register as registerTokens } from "./commands/tokens.js";
import { register as registerValidate } from "./commands/validate.js";

/** Every top-level command by name (one line each, keep sorted). */
const COMMANDS = new Map<string, (program: Command) => void>([
  ["approve", registerApprove],
  ["audit", registerAudit],
  ["diff", registerDiff],
  ["discover", registerDiscover],
  ["drift", registerDrift],
  ["import", registerImport],
  ["init", registerInit],
  ["libraries", registerLibraries],
  ["on-push", registerOnPush],
  ["plan", registerPlan],
  ["run", registerRun],
  ["runs", registerRuns],
  ["secrets", registerSecrets],
  ["serve", registerServe],
  ["targets", registerTargets],
  ["tokens", registerTokens],
  ["validate", registerValidate],
]);

/** The program with the command `argv` names, or with every command when it names none. */
function buildProgram(argv: readonly string[]): Command {
  const program = new Command("opsc")
    .description("OpsConductor: automation as code, run from Git.")
    .version(process.env.OPSC_VERSION ?? "0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .addHelpText(
      "after",
      `
Every command takes --repo DIR (default: the nearest folder upward holding
opsconductor.yaml) and has its own --help with examples.

Examples:
  $ opsc init ops && cd ops
  $ opsc validate
  $ opsc plan hello
  $ opsc run hello
  $ opsc runs list

Exit codes: 0 success, 1 what was asked for failed, 2 usage, 3 a mistake in the
repository or request, 4 the environment is in the way, 5 drift found (opsc drift),
70 a bug, 130 interrupted.
Documentation: docs/README.md`,
    );
  // Only the command asked for is defined: defining all of them, with their options and help
  // texts, was a tenth of `opsc validate`'s start-up. `opsc --help`, `opsc help` and a mistyped
  // name (which commander answers with "did you mean") get them all.
  const only = argv[0] === undefined ? undefined : COMMANDS.get(argv[0]);
  for (const register of only ? [only] : COMMANDS.values()) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(argv);
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(e);
  }
}

// `opsc ... | head` closes the pipe early; that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? EXIT.ok);
    throw e;
  });
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
