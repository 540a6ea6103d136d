/** `opsc run JOB`: plan a job and execute it, with a live view and a summary. */
import { Command } from "commander";
import { hasErrors } from "../../core/diagnostic.js";
import { usageError, userError } from "../../core/errors.js";
import { EXIT } from "../../core/exit-codes.js";
import { formatDiagnostics } from "../../repo/format-diagnostics.js";
import { loadRepo } from "../../repo/load-repo.js";
import { readRepoDir } from "../../repo/read-dir.js";
import { buildPlan } from "../../plan/build-plan.js";
import { ProgressView } from "../../run/progress-view.js";
import { runPlan } from "../../run/run-plan.js";
import { Redactor } from "../../secrets/redactor.js";
import { createTransportFactory, type CredentialSource } from "../../transports/transport-factory.js";
import { findRepoRoot } from "../repo-root.js";

export interface RunCommandOptions {
  repo?: string;
  input: string[];
  target: string[];
  match: string[];
  check?: boolean;
  output?: boolean;
}

/** Parses repeated `k=v` flags; the value may itself contain `=`. */
export function parsePairs(flag: string, pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw usageError("cli.bad-pair", `${flag} ${p}: expected NAME=VALUE`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/**
 * The credential store is opened by whoever wires the command (it needs the
 * repository's age identity); a run that needs no credential works without one.
 */
export interface RunDeps {
  openCredentials?(root: string, redactor: Redactor): CredentialSource | Promise<CredentialSource>;
}

export function register(program: Command, deps: RunDeps = {}): void {
  program
    .command("run")
    .description("Run a job on its targets, over SSH or locally")
    .argument("<job>", "job id (path under jobs/ without .yaml)")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .option("-i, --input <name=value>", "job input (repeatable)", collect, [])
    .option("-t, --target <name>", "only these targets (repeatable, globs allowed)", collect, [])
    .option("-m, --match <label=value>", "only targets with this label (repeatable, all must match)", collect, [])
    .option("--check", "dry run: run only `check` scripts and report what would change")
    .option("--output", "print every output line (plain mode; the live view shows only failures' output)")
    .addHelpText(
      "after",
      `
Exit status: 0 every target succeeded, 1 a target failed (or was unreachable, timed out, cancelled),
2 usage error, 3 a mistake in the repository or the request, 130 interrupted (Ctrl-C).

Examples:
  $ opsc run patch-web
  $ opsc run patch-web --input package=nginx --target 'web-*'
  $ opsc run patch-web --match env=staging --check
  $ opsc run hello --repo examples/demo --output

On a terminal the view is live (targets by steps, counts, elapsed time); in CI it prints one line per
step. Ctrl-C kills the running steps, cancels the rest and still prints the summary; a second Ctrl-C exits.
See docs/execution.md.`,
    )
    .action(async (job: string, opts: RunCommandOptions) => {
      process.exitCode = await runCommand(job, opts, deps);
    });
}

export async function runCommand(job: string, opts: RunCommandOptions, deps: RunDeps = {}): Promise<number> {
  const root = findRepoRoot(opts.repo);
  const { model, diagnostics } = loadRepo(await readRepoDir(root));
  if (hasErrors(diagnostics)) {
    process.stderr.write(formatDiagnostics(diagnostics, "text"));
    throw userError("run.invalid-repo", "the repository has errors; nothing was run", { hint: "fix them (opsc validate shows them all)" });
  }
  const inputs = parsePairs("--input", opts.input);
  const match = parsePairs("--match", opts.match);
  const filter = {
    ...(opts.target.length ? { names: opts.target } : {}),
    ...(Object.keys(match).length ? { match } : {}),
  };
  const planned = buildPlan(model, {
    job,
    inputs,
    fromText: true,
    trigger: { kind: "manual", actor: process.env.USER ?? "cli" },
    filter,
    checkMode: opts.check === true,
  });
  if (!planned.plan || hasErrors(planned.diagnostics)) {
    process.stderr.write(formatDiagnostics(planned.diagnostics, "text"));
    throw userError("run.plan-failed", `job ${job} cannot be planned`, { hint: "see the problems above" });
  }
  const plan = planned.plan;
  if (Object.keys(plan.targets).length === 0) {
    throw userError("run.no-targets", `job ${job} selects no targets`, { hint: "check the job's `targets:` and your --target / --match" });
  }

  const redactor = new Redactor();
  const credentials = deps.openCredentials ? await deps.openCredentials(root, redactor) : undefined;
  const secrets: Record<string, string> = {};
  for (const [name, ref] of Object.entries(plan.secrets)) {
    if (!credentials) throw userError("run.no-credentials", `secret ${name} (${ref}) needs the credential store, which is not available`);
    const value = await credentials.get(ref);
    if (typeof value !== "string") throw userError("run.secret-not-string", `secret ${name}: ${ref} is a mapping, not a value`, { hint: `name a leaf, such as ${ref}.password` });
    redactor.add(value);
    secrets[name] = value;
  }
  const factory = createTransportFactory({ redactor, ...(credentials ? { credentials } : {}) });

  const live = process.stdout.isTTY === true && !process.env.CI;
  const view = new ProgressView(plan, {
    write: (s) => process.stdout.write(s),
    live,
    columns: process.stdout.columns ?? 100,
    showOutput: opts.output === true,
  });
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write("\nopsc: cancelling (Ctrl-C again to quit at once)\n");
      abort.abort();
    } else {
      process.exit(EXIT.interrupted);
    }
  };
  process.on("SIGINT", onSigint);
  try {
    const outcome = await runPlan(plan, {
      transportFor: factory.transportFor,
      sudoPassword: factory.sudoPassword,
      redactor,
      secrets,
      listeners: [view.listener],
      signal: abort.signal,
    });
    view.finish(outcome);
    return outcome.result === "success" ? EXIT.ok : outcome.result === "cancelled" ? EXIT.interrupted : EXIT.failed;
  } finally {
    process.off("SIGINT", onSigint);
  }
}
