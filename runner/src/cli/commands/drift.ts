/** `opsc drift JOB`: check a job's targets against the repository and report what drifted. */
import type { JobFlags } from "../plan-flags.js";
import { cancelOnInterrupt } from "../cancel-on-interrupt.js";
import { Command } from "commander";
import { EXIT } from "../../core/exit-codes.js";
import { cliActor } from "../actor.js";
import { formatOption, wantsJson, type FormatOpts } from "../format-option.js";
import { addJobOptions, stepSelection } from "../input-flags.js";
import { findRepoRoot } from "../../app/workspace.js";

interface DriftFlags extends FormatOpts, JobFlags {
  /** `--no-push` sets this false. */
  push?: boolean;
  allowDirty?: boolean;
}

export function register(program: Command): void {
  addJobOptions(program.command("drift"))
    .description("Check a job's targets for drift: run it in check mode and report what would change")
    .option("--no-push", "commit the drift report and the run record locally but do not push them")
    .option("--allow-dirty", "check with automation files that differ from HEAD (recorded as such)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      `
Runs the job in check mode (copy and template steps compare files, other steps run only their
\`check\` script; nothing is changed) and records that run like any other. When a step would change
something, the report (drift.md and drift.json: targets, steps, file diffs, never a secret) is
committed to the branch opsconductor/drift/JOB on top of its previous tip and pushed to origin, and
the job's notify: entries that list \`drift\` are sent. When nothing would change, an existing drift
branch gets a "clean" report (and entries that list \`drift-resolved\` are sent when the report
before said drift); none is created.

Exit status: 0 clean; 5 drift found; 1 a target could not be checked (failed, unreachable);
2 usage error; 3 a mistake in the repository or the request; 4 environment; 130 interrupted.

Examples:
  $ opsc drift site
  $ opsc drift site --target 'web-*' --format json | jq '.report.targets[] | select(.status=="drift")'
  $ opsc drift patch-web --input package=nginx --no-push
  $ opsc drift site; case $? in 0) echo clean;; 5) echo drifted;; *) echo "not checked";; esac

See docs/drift.md.`,
    )
    .action(async (job: string, flags: DriftFlags) => {
      process.exitCode = await driftCommand(job, flags);
    });
}

async function driftCommand(job: string, flags: DriftFlags): Promise<number> {
  const root = findRepoRoot(flags.repo);
  // Loaded on use, so `opsc --help` stays quick.
  const [{ detectDrift }, { renderDriftText }] = await Promise.all([
    import("../../app/detect-drift.js"),
    import("../../core/drift-report.js"),
  ]);
  const interrupt = cancelOnInterrupt();
  try {
    const selection = stepSelection(flags);
    const result = await detectDrift({
      repoDir: root,
      job,
      ...(flags.allowDirty ? { allowDirty: true } : {}),
      inputs: flags.input ?? {},
      inputsFromText: true,
      trigger: { kind: "manual", actor: cliActor(), by: { name: cliActor(), via: "cli" } },
      push: flags.push !== false,
      filter: {
        ...(flags.target?.length ? { names: flags.target } : {}),
        ...(flags.match ? { match: flags.match } : {}),
      },
      ...(selection ? { selection } : {}),
      signal: interrupt.signal,
    });
    const { report, branch, record } = result;
    if (wantsJson(flags)) {
      process.stdout.write(
        `${JSON.stringify(
          {
            status: report?.status ?? result.summary.result,
            report: report ?? null,
            branch: branch
              ? {
                  name: branch.branch,
                  commit: branch.commit,
                  push: branch.push.status,
                  ...(branch.push.reason ? { reason: branch.push.reason } : {}),
                }
              : null,
            record: { branch: record.branch, path: record.path, push: record.push.status },
            notifications: result.notifications,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      if (report) process.stdout.write(renderDriftText(report));
      else process.stdout.write(`${job}: check ${result.summary.result}; no drift report\n`);
      if (branch) {
        const where =
          branch.push.status === "pushed" ? "pushed to origin" : `not pushed: ${branch.push.status}`;
        process.stdout.write(`\nreport: ${branch.branch} ${branch.commit.slice(0, 12)} (${where})\n`);
      } else if (report?.status === "clean") {
        process.stdout.write("\nno drift branch: nothing to update\n");
      }
      process.stdout.write(`record: ${record.branch}:${record.path} (push: ${record.push.status})\n`);
    }
    if (branch && (branch.push.status === "refused" || branch.push.status === "failed")) {
      process.stderr.write(
        `opsc: drift report not pushed: ${branch.push.reason ?? branch.push.status}\n  hint: the commit is on the local branch ${branch.branch}; the next drift run builds on it\n`,
      );
    }
    if (
      record.push.status === "refused" ||
      record.push.status === "failed" ||
      record.push.status === "rewritten"
    ) {
      // Kept locally and pushed at the next start, as for opsc run.
      process.stderr.write(`opsc: records not pushed: ${record.push.reason ?? record.push.status}\n`);
    }
    if (result.branchProblem) process.stderr.write(`opsc: ${result.branchProblem}\n`);
    if (result.summary.result === "cancelled" || result.summary.result === "interrupted")
      return EXIT.interrupted;
    if (!report || report.counts.error > 0 || result.summary.result !== "success") return EXIT.failed;
    return report.status === "drift" ? EXIT.drift : EXIT.ok;
  } finally {
    interrupt.dispose();
  }
}
