/** `opsc diff BASE HEAD`: what a change does to every job, for pull-request review. */
import { Command, Option } from "commander";
import { usageError } from "../../core/errors.js";
import { DIFF_FORMATS, reviewReport, type DiffFormat } from "../../app/review-report.js";
import { findRepoRoot, locateGit } from "../../app/workspace.js";

interface DiffFlags {
  repo?: string;
  format: DiffFormat;
  at?: string;
}

export function register(program: Command): void {
  program
    .command("diff")
    .description(
      "Show what a change does to every job: triggers, schedules, targets, steps, inputs, credentials",
    )
    .argument("<base>", "the commit before the change (branch, tag or commit id)")
    .argument("<head>", "the commit after the change")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .addOption(
      new Option("--format <format>", "output format").choices([...DIFF_FORMATS]).default("markdown"),
    )
    .option("--at <time>", "compute schedules' next fire times from this ISO 8601 time (default: now)")
    .addHelpText(
      "after",
      `
Both commits are read straight from Git (no checkout). Nothing is decrypted and no target is
contacted: the diff is safe on pull requests from anyone. Credentials appear by name only.

Exit status: 0 the diff was printed (whatever it shows), 2 usage error, 3 an unknown commit.

Examples:
  $ opsc diff origin/main HEAD
  $ opsc diff "$BASE_SHA" "$HEAD_SHA" >> "$GITHUB_STEP_SUMMARY"
  $ opsc diff main feature/new-targets --format json | jq '.jobs[] | select(.change != "unchanged")'`,
    )
    .action(async (base: string, head: string, flags: DiffFlags) => {
      const at = flags.at === undefined ? new Date() : new Date(flags.at);
      if (Number.isNaN(at.getTime())) {
        throw usageError("cli.bad-time", `--at ${flags.at}: not a date`, {
          hint: "for example --at 2026-11-22T08:00:00Z",
        });
      }
      // Loaded on use, so `opsc --help` and `--version` stay quick.
      const { reviewCommits } = await import("../../app/review-commits.js");
      const { gitdir, root } = locateGit(findRepoRoot(flags.repo));
      const review = await reviewCommits({ gitdir, ...(root ? { root } : {}), base, head, at });
      process.stdout.write(reviewReport(review, flags.format));
    });
}
