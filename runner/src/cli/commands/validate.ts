/** `opsc validate`: every problem in the automation repository at once. */
import { Command, Option } from "commander";
import { hasErrors } from "../../core/diagnostic.js";
import { EXIT } from "../../core/exit-codes.js";
import {
  DIAGNOSTIC_FORMATS,
  formatDiagnostics,
  type DiagnosticFormat,
} from "../../repo/format-diagnostics.js";
import { findRepoRoot } from "../../app/workspace.js";

export function register(program: Command): void {
  program
    .command("validate")
    .description("Check the automation repository: schemas, references, expressions, schedules, inputs")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .addOption(
      new Option("--format <format>", "output format").choices([...DIAGNOSTIC_FORMATS]).default("text"),
    )
    .addHelpText(
      "after",
      `
Exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage error.

Examples:
  $ opsc validate                          # compiler-style report with the offending lines
  $ opsc validate --repo ops/ --format json
  $ opsc validate --format github          # annotations on a pull request (GitHub Actions)
  $ opsc validate --format sarif > opsc.sarif   # upload with github/codeql-action/upload-sarif

Every diagnostic code is explained in docs/validation.md.`,
    )
    .action(async (opts: { repo?: string; format: DiagnosticFormat }) => {
      const root = findRepoRoot(opts.repo);
      // Loaded on use, so `opsc --help` and `--version` stay quick.
      const [{ loadRepo }, { readRepoDir }, { readLibraries }] = await Promise.all([
        import("../../repo/load-repo.js"),
        import("../../repo/read-dir.js"),
        import("../../app/read-libraries.js"),
      ]);
      const files = await readRepoDir(root);
      const { diagnostics, sources } = loadRepo(files, await readLibraries(files));
      const out = formatDiagnostics(diagnostics, opts.format, {
        lineOf: (file, line) =>
          file.startsWith("credentials/") ? undefined : sources.get(file)?.sourceLine(line),
        color: opts.format === "text" && process.stdout.isTTY === true && !process.env.NO_COLOR,
        version: process.env.OPSC_VERSION ?? "0.1.0",
      });
      process.stdout.write(out);
      if (hasErrors(diagnostics)) process.exitCode = EXIT.failed;
    });
}
