/** `opsc audit verify|accept-remote|export`: check the hash chain and origin's history; export it for compliance. */
import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { usageError } from "../../core/errors.js";
import { EXIT } from "../../core/exit-codes.js";

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
    .description("Recompute the hash chain of every audit line and check each run's files against it")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .option(
      "--remote",
      "fetch the records branch from origin and verify what origin holds now, and that it extends the history this clone knew",
    )
    .addHelpText(
      "after",
      `
Exit status: 0 the trail is intact, 1 it is broken (the first broken line is printed as FILE:LINE)
or origin's history was rewritten, 3 / 4 it could not be read or fetched.

Examples:
  $ opsc audit verify
  $ OPSC_GIT_TOKEN=... opsc audit verify --remote`,
    )
    .action(async (opts: { repo?: string; remote?: boolean }) => {
      // Loaded on use, so `opsc --help` and `--version` stay quick.
      const { verifyAuditTrail } = await import("../../app/audit-trail.js");
      const verified = await verifyAuditTrail({
        ...(opts.repo !== undefined ? { repo: opts.repo } : {}),
        remote: opts.remote ?? false,
      });
      const { branch, source: src, chain: v, known } = verified;
      let rewritten = false;
      if (verified.rewrite && src) {
        rewritten = true;
        write(
          `origin's history REWRITTEN: ${branch} is at ${src.commit.slice(0, 12)}, which does not extend ${known?.slice(0, 12) ?? "?"}, the last tip this clone knew: ${verified.rewrite}\n`,
        );
        write(
          `  compare them (git log ${known?.slice(0, 12) ?? ""} ${src.commit.slice(0, 12)}); if the new history is legitimate: opsc audit accept-remote ${src.commit.slice(0, 12)}\n`,
        );
        process.exitCode = EXIT.failed;
      }
      if (!src || !v) return write(`nothing recorded yet on ${branch}\n`);
      const runs = v.runs ?? 0;
      if (v.ok) {
        write(
          `audit trail ${rewritten ? "consistent in itself (a rewrite can be)" : "intact"}: ${plural(v.lines, "line")}, ${plural(runs, "run")}, head ${v.head?.hash ?? "(empty)"} (${src.ref} at ${src.commit.slice(0, 12)})\n`,
        );
        if (v.withoutManifest) {
          write(
            `  note: ${plural(v.withoutManifest, "line")} predate audit format 2 and vouch for run.json only: the logs and README of those runs are not covered\n`,
          );
        }
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
    .command("accept-remote")
    .description(
      "Accept origin's rewritten records branch as the history to build on, after investigating it",
    )
    .argument("<commit>", "the commit origin's records branch is at (as `audit verify --remote` printed it)")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .addHelpText(
      "after",
      `
A runner refuses to build records on an origin tip that does not extend the last one it knew
(records.remote-rewritten). Once you know why origin's history changed and accept it, name the tip
you checked: records this clone holds that are not on it are rebuilt on top and pushed.

Examples:
  $ opsc audit verify --remote
  $ opsc audit accept-remote 5cd463dfad6c`,
    )
    .action(async (commit: string, opts: { repo?: string }) => {
      const { acceptRemoteRecords } = await import("../../app/audit-trail.js");
      const { branch, tip, previous, pending } = await acceptRemoteRecords({
        ...(opts.repo !== undefined ? { repo: opts.repo } : {}),
        commit,
      });
      write(
        `accepted origin's ${branch} at ${tip.slice(0, 12)}${previous ? ` (the last tip known was ${previous.slice(0, 12)})` : ""}\n`,
      );
      if (pending) {
        write(
          `pending records (${pending.runs.join(", ")}): push ${pending.status}${pending.reason ? `: ${pending.reason}` : ""}\n`,
        );
        if (pending.status !== "pushed" && pending.status !== "already-landed")
          process.exitCode = EXIT.environment;
      }
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
      const { exportAuditTrail } = await import("../../app/audit-trail.js");
      const text = await exportAuditTrail({
        ...(opts.repo !== undefined ? { repo: opts.repo } : {}),
        format: opts.format,
        ...(since ? { since } : {}),
      });
      if (opts.output !== undefined) writeFileSync(opts.output, text);
      else write(text);
    });
}
