/** `opsc audit verify|export`: check the hash chain; export it for compliance. */
import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { usageError } from "../../core/errors.js";
import { EXIT } from "../../core/exit-codes.js";
import { exportAudit } from "../../records/audit-export.js";
import { fetchRecords, openRecords, readAuditFiles, verifyRecords } from "../../records/records-branch.js";
import { readRecordsSettings } from "../records-settings.js";
import { findRepoRoot } from "../../app/workspace.js";

const write = (s: string): void => void process.stdout.write(s);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

export function register(program: Command): void {
  const audit = program
    .command("audit")
    .description("Check the audit trail's hash chain; export it for compliance")
    .addHelpText(
      "after",
      `
Examples:
  $ opsc audit verify --remote
  $ opsc audit export --since 2026-01-01 --format csv -o audit.csv

See docs/records.md.`,
    );
  audit
    .command("verify")
    .description("Recompute the hash chain of every audit line and check each run's record against it")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .option("--remote", "fetch the records branch from origin first and verify what origin holds")
    .addHelpText(
      "after",
      `
Exit status: 0 the trail is intact, 1 it is broken (the first broken line is printed as FILE:LINE),
3 / 4 it could not be read or fetched.

Examples:
  $ opsc audit verify
  $ OPSC_GIT_TOKEN=... opsc audit verify --remote`,
    )
    .action(async (opts: { repo?: string; remote?: boolean }) => {
      const root = findRepoRoot(opts.repo);
      const { branch } = readRecordsSettings(root).records;
      if (opts.remote) await fetchRecords(root, branch);
      const src = await openRecords(root, branch, opts.remote ? { remote: "origin" } : {});
      if (!src) return write(`nothing recorded yet on ${branch}\n`);
      const v = await verifyRecords(src);
      const runs = v.runs ?? 0;
      if (v.ok) {
        write(
          `audit trail intact: ${plural(v.lines, "line")}, ${plural(runs, "run")}, head ${v.head?.hash ?? "(empty)"} (${src.ref} at ${src.commit.slice(0, 12)})\n`,
        );
        return;
      }
      const where = v.firstBreak
        ? v.firstBreak.line > 0
          ? `${v.firstBreak.file}:${v.firstBreak.line}`
          : v.firstBreak.file
        : "?";
      write(`audit trail BROKEN at ${where}: ${v.firstBreak?.message ?? "unknown"}\n`);
      write(`  (${v.lines} lines verified before it; ${src.ref} at ${src.commit.slice(0, 12)})\n`);
      process.exitCode = EXIT.failed;
    });
  audit
    .command("export")
    .description("Print the audit trail as JSON Lines or CSV")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .option("--since <date>", "only runs that finished at or after this date (ISO 8601, e.g. 2026-11-01)")
    .option("--format <format>", "jsonl (lines as committed, hashes verifiable) or csv", "jsonl")
    .option("-o, --output <file>", "write to a file instead of standard output")
    .addHelpText(
      "after",
      `
Examples:
  $ opsc audit export --since 2026-01-01 --format csv -o audit-2026.csv
  $ opsc audit export | jq -c 'select(.result != "success")'`,
    )
    .action(async (opts: { repo?: string; since?: string; format: string; output?: string }) => {
      if (opts.format !== "jsonl" && opts.format !== "csv") {
        throw usageError("cli.bad-format", `--format ${opts.format}: expected jsonl or csv`);
      }
      let since: Date | undefined;
      if (opts.since !== undefined) {
        since = new Date(opts.since);
        if (Number.isNaN(since.getTime())) {
          throw usageError("cli.bad-date", `--since ${opts.since}: not a date`, {
            hint: "use ISO 8601: 2026-11-01 or 2026-11-01T00:00:00Z",
          });
        }
      }
      const root = findRepoRoot(opts.repo);
      const src = await openRecords(root, readRecordsSettings(root).records.branch);
      const text = src
        ? exportAudit(await readAuditFiles(src), { format: opts.format, ...(since ? { since } : {}) })
        : "";
      if (opts.output !== undefined) writeFileSync(opts.output, text);
      else write(text);
    });
}
