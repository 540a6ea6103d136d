/** `opsc run JOB`: plan a job and execute it, with a live view and a summary. */
import type { JobFlags } from "../plan-flags.js";
import { cancelOnInterrupt } from "../cancel-on-interrupt.js";
import { Command } from "commander";
import { EXIT } from "../../core/exit-codes.js";
import type { ProgressView } from "../../app/progress-view.js";
import { cliActor } from "../actor.js";
import { addJobOptions, parseShard, stepSelection } from "../input-flags.js";
import { findRepoRoot } from "../../app/workspace.js";
import { shardGroup } from "../../app/shard-group.js";

export interface RunCommandOptions extends JobFlags {
  check?: boolean;
  output?: boolean;
  /** `--no-push` sets this false. */
  push?: boolean;
  /** `K/N`: run only shard K of N. */
  shard?: string;
  /** Names the sharded run the shards belong to (default: from GitHub Actions' run id). */
  shardGroup?: string;
  /** Run automation files that differ from HEAD. */
  allowDirty?: boolean;
}

export function register(program: Command): void {
  addJobOptions(program.command("run"))
    .description("Run a job on its targets, over SSH or locally")
    .option("--check", "dry run: run only `check` scripts and report what would change")
    .option("--output", "print every output line (plain mode; the live view shows only failures' output)")
    .option("--no-push", "commit the run record locally but do not push it")
    .option(
      "--allow-dirty",
      "run even though automation files differ from HEAD; the record says so and lists them",
    )
    .option(
      "--shard <K/N>",
      "run only shard K of N: a deterministic slice of the targets (see opsc plan --matrix)",
    )
    .option(
      "--shard-group <id>",
      "the sharded run this shard belongs to, shared by all shards (default in GitHub Actions: the workflow run)",
    )
    .addHelpText(
      "after",
      `
The run's record (run.json, README.md, a log per target) is committed to the records branch and
pushed to origin when there is one. It names the commit that ran, so a run is refused while the
automation files (opsconductor.yaml, .sops.yaml, targets/, steps/, jobs/, credentials/) differ from
HEAD: commit them first, or pass --allow-dirty to run them anyway (run.json and the audit line then
record the tree as dirty on top of HEAD, with the paths that differed).

Exit status: 0 every target succeeded; 1 a target failed, was unreachable, timed out or cancelled;
2 usage error; 3 a mistake in the repository or the request; 130 interrupted (Ctrl-C).

Examples:
  $ opsc run patch-web
  $ opsc run patch-web --input package=nginx --target 'web-*'
  $ opsc run patch-web --match env=staging --check
  $ opsc run hello --repo examples/minimal --output
  $ opsc run patch-web --allow-dirty          # try an uncommitted change; recorded as dirty
  $ opsc run site --tags nginx              # only steps tagged nginx (and those tagged always)
  $ opsc run site --skip-tags slow --start-at configure
  $ opsc run site --check                   # copy steps print a unified diff of what would change

Steps left out by --tags, --skip-tags or --start-at are recorded as skipped, with the reason.

A run locks its targets (refs/opsconductor/locks/<target> on origin) so no other run, from any door,
works on them at the same time; a held target is waited for or skipped as the job's locks: says
(default: wait up to 10m). OPSC_LEASE_SECONDS sets the lease duration (default 60). See docs/locks.md.

On a terminal the view is live (targets by steps, counts, elapsed time); in CI it prints one line per
step. Ctrl-C kills the running steps, cancels the rest and still prints the summary; a second Ctrl-C exits.
See docs/execution.md.`,
    )
    .action(async (job: string, opts: RunCommandOptions) => {
      process.exitCode = await runCommand(job, opts);
    });
}

export async function runCommand(job: string, opts: RunCommandOptions): Promise<number> {
  const root = findRepoRoot(opts.repo);
  // Loaded on use, so `opsc --help` and `--version` stay quick.
  const [{ executeJob }, { ProgressView }] = await Promise.all([
    import("../../app/execute-job.js"),
    import("../../app/progress-view.js"),
  ]);
  const filter = {
    ...(opts.target?.length ? { names: opts.target } : {}),
    ...(opts.match ? { match: opts.match } : {}),
  };
  let view: ProgressView | undefined;
  const interrupt = cancelOnInterrupt();
  try {
    const { summary, record } = await executeJob({
      repoDir: root,
      job,
      ...(opts.allowDirty ? { allowDirty: true } : {}),
      inputs: opts.input ?? {},
      inputsFromText: true,
      // Not proven: the name comes from the machine (OPSC_ACTOR or the OS user).
      trigger: { kind: "manual", actor: cliActor(), by: { name: cliActor(), via: "cli" } },
      push: opts.push !== false,
      filter,
      checkMode: opts.check === true,
      ...(stepSelection(opts) ? { selection: stepSelection(opts)! } : {}),
      ...(opts.shard ? { shard: shardGroup(parseShard(opts.shard), opts.shardGroup) } : {}),
      signal: interrupt.signal,
      onPlan: ({ plan }) => {
        view = new ProgressView(plan, {
          write: (s) => process.stdout.write(s),
          live: process.stdout.isTTY === true && !process.env.CI,
          columns: process.stdout.columns ?? 100,
          showOutput: opts.output === true,
        });
      },
      listeners: [(e) => view?.listener(e)],
      onLockWait: (w) =>
        process.stderr.write(
          w.wait === undefined
            ? `opsc: ${w.target} is locked by run ${w.run} on ${w.replica}: skipped (locks: skip)\n`
            : `opsc: ${w.target} is locked by run ${w.run} on ${w.replica}; waiting up to ${w.wait}\n`,
        ),
    });
    view?.finish({
      runId: summary.id,
      result: summary.result,
      targets: summary.targets,
      counts: summary.counts,
      ms: Date.parse(summary.finishedAt) - Date.parse(summary.startedAt),
    });
    const push = record.push.status;
    const pushed =
      push === "skipped"
        ? "--no-push: not pushed"
        : push === "no-remote"
          ? "no remote to push to"
          : `push: ${push}`;
    process.stdout.write(`record: ${record.branch}:${record.path} (${pushed})\n`);
    if (push === "rewritten" || push === "refused" || push === "failed") {
      // The record is kept locally and pushed at the next start; say why it is not on origin yet.
      const { code, reason, hint } = record.push;
      process.stderr.write(`opsc: records not pushed${code ? ` [${code}]` : ""}: ${reason ?? push}\n`);
      if (hint) process.stderr.write(`  hint: ${hint}\n`);
    }
    // A job that worked but whose record is not on origin is not done in the eyes of a
    // pipeline that relies on the audit trail: exit 4, as for any refused push (ADR 0002).
    const unpushed = push === "rewritten" || push === "refused" || push === "failed";
    return summary.result === "success"
      ? unpushed
        ? EXIT.environment
        : EXIT.ok
      : summary.result === "cancelled"
        ? EXIT.interrupted
        : EXIT.failed;
  } finally {
    // Lines of a run that ended in an error are still shown.
    view?.flush();
    interrupt.dispose();
  }
}
