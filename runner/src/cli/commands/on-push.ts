/** `opsc on-push --before SHA --after SHA`: run what a push triggers, at the pushed commit. */
import { Command } from "commander";
import { userError } from "../../core/errors.js";
import { EXIT } from "../../core/exit-codes.js";
import { formatDiagnostics } from "../../repo/format-diagnostics.js";
import { cliActor } from "../actor.js";
import { openWorkspace, type Workspace } from "../../app/workspace.js";

export interface OnPushOptions {
  before: string;
  after: string;
  ref?: string;
  repo?: string;
  push: boolean;
  list?: boolean;
}

export function register(program: Command): void {
  program
    .command("on-push")
    .description("Run every job whose on.push matches the paths a push changed, at the pushed commit")
    .requiredOption("--before <sha>", "commit before the push (all zeros for a new branch)")
    .requiredOption("--after <sha>", "the pushed commit")
    .option("--ref <ref>", "the pushed ref (default: $GITHUB_REF, else the current branch)")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .option("--no-push", "commit records locally but do not push them")
    .option("--list", "only print the changed paths and the jobs that would run")
    .addHelpText(
      "after",
      `
Job definitions are read at --after (not from the working tree), the changed paths come from a tree
diff of the two commits, and each selected job runs at exactly --after. Pushes to the records branch
never trigger anything.

Exit status: 0 every selected job succeeded (or none was selected), 1 a job failed,
2 usage error, 3 a mistake in the repository or an unknown commit.

Examples:
  $ opsc on-push --before "$BEFORE" --after "$AFTER" --ref refs/heads/main
  $ opsc on-push --before "$(git rev-parse HEAD~1)" --after "$(git rev-parse HEAD)" --list
  # in a GitHub Actions workflow on: push
  $ opsc on-push --before "\${{ github.event.before }}" --after "\${{ github.sha }}"`,
    )
    .action(async (opts: OnPushOptions) => {
      process.exitCode = await onPushCommand(opts);
    });
}

export async function onPushCommand(
  opts: OnPushOptions,
  out = (s: string) => process.stdout.write(s),
): Promise<number> {
  const workspace = await openWorkspace(opts.repo);
  const { root } = workspace;
  // Loaded on use, so `opsc --help` and `--version` stay quick.
  const [{ executeJob }, { resolvePush }] = await Promise.all([
    import("../../app/execute-job.js"),
    import("../../app/resolve-push.js"),
  ]);
  const ref = opts.ref ?? process.env.GITHUB_REF ?? (await currentBranchRef(workspace));
  const r = await resolvePush(workspace.git, { before: opts.before, after: opts.after, ref });
  if (r.errors.length > 0) {
    process.stderr.write(formatDiagnostics(r.errors, "text"));
    throw userError(
      "on-push.invalid-repo",
      `the repository has errors at ${r.commit.slice(0, 12)}; nothing was run`,
      {
        hint: "fix them (opsc validate shows them all) and push again",
      },
    );
  }
  out(
    `${r.changed.length} path(s) changed between ${opts.before.slice(0, 12)} and ${r.commit.slice(0, 12)} on ${ref}\n`,
  );
  if (opts.list) for (const p of r.changed) out(`  ${p}\n`);
  if (r.jobs.length === 0) {
    out(`no job to run: ${r.reason ?? "nothing matches"}\n`);
    return EXIT.ok;
  }
  out(`jobs: ${r.jobs.map((j) => j.id).join(", ")}\n`);
  if (opts.list) return EXIT.ok;
  let failed = 0;
  for (const job of r.jobs) {
    const { summary } = await executeJob({
      repoDir: root,
      gitdir: workspace.gitdir,
      commit: r.commit,
      ref,
      job: job.id,
      inputs: {},
      trigger: {
        kind: "push",
        actor: cliActor(),
        detail: { before: opts.before, after: r.commit, ref },
      },
      push: opts.push,
    });
    out(`${job.id}: ${summary.result} (run ${summary.id})\n`);
    if (summary.result !== "success") failed++;
  }
  return failed > 0 ? EXIT.failed : EXIT.ok;
}

async function currentBranchRef(workspace: Workspace): Promise<string> {
  const branch = await workspace.git.currentBranch({ test: false });
  if (!branch) {
    throw userError("on-push.no-ref", "HEAD is detached, so the pushed branch is unknown", {
      hint: "pass --ref refs/heads/BRANCH",
    });
  }
  return branch;
}
