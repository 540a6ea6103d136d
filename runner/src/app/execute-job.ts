/**
 * Runs one job end to end: read the repository (at a commit when given),
 * validate, plan, decrypt what the plan needs, run, record, push. The CLI,
 * the push trigger, the server and the GitHub Action all call this, so a run
 * behaves the same whichever door started it.
 */
import type { DirtyTree, PlannedTarget, StepSelection, Trigger } from "../core/plan-model.js";
import type { RunEventListener } from "../core/run-events.js";
import type { RunSummary } from "../core/run-summary.js";
import { userError } from "../core/errors.js";
import { isShutdown } from "../core/shutdown.js";
import type { TargetFilter } from "../plan/select-targets.js";
import { notifyRun, startedNotifier } from "../notify/notifier.js";
import { previousRunResult } from "../records/previous-run.js";
import { commitRecord, type CommitRecordResult } from "../records/commit-record.js";
import { GitRepository } from "../git/git-repository.js";
import { recoverInterrupted, RunJournal } from "../records/journal.js";
import { RunRecorder } from "../records/run-recorder.js";
import { CredentialStore } from "../secrets/credential-store.js";
import { Redactor } from "../secrets/redactor.js";
import { runnerSecrets } from "../secrets/runner-secrets.js";
import { createTransportFactory } from "../transports/transport-factory.js";
import { requireApprovals } from "./approvals.js";
import { loadPlan, type LoadedPlan, type LoadedRepo } from "./load-plan.js";
import { newRunId } from "../core/run-id.js";
import { runPlan } from "../run/run-plan.js";
import { findGitDir } from "../git/git-dir.js";
import { TargetLocks, type LockWait } from "./target-locks.js";
import { preloadRunCode } from "./preload-run-code.js";

export interface ExecuteJobRequest {
  /** The automation repository: a working clone, or the folder of a mirror. */
  repoDir: string;
  /** Run the job definitions of this commit; absent: the working tree as it is. */
  commit?: string;
  /**
   * Run a working tree whose automation files differ from HEAD (recorded as such).
   * Without it such a run is refused: its record could not name what ran.
   */
  allowDirty?: boolean;
  /** The git dir when it is not `<repoDir>/.git`. */
  gitdir?: string;
  job: string;
  inputs: Record<string, unknown>;
  /** Inputs are text (command line, query string) and are coerced by the inputs' schemas. */
  inputsFromText?: boolean;
  trigger: Trigger;
  ref?: string;
  /** Push the record to `origin` (when the repository has one). */
  push: boolean;
  filter?: TargetFilter;
  checkMode?: boolean;
  shard?: { index: number; count: number };
  /** `--tags`, `--skip-tags`, `--start-at`. */
  selection?: StepSelection;
  signal?: AbortSignal;
  listeners?: RunEventListener[];
  /** Told the plan before anything connects (progress views size themselves from it). */
  onPlan?: (loaded: LoadedPlan) => void;
  /** Told when another run holds one of the targets (see target-locks.ts). */
  onLockWait?: (wait: LockWait) => void;
  env?: NodeJS.ProcessEnv;
  /**
   * The repository already loaded and valid at `commit` (the server resolved
   * the push with it): a webhook's run starts without reading it again.
   */
  repo?: LoadedRepo;
  /** Masks the run's secrets; given by a caller that writes more from the run (opsc drift's report). */
  redactor?: Redactor;
  /** false: the job's `notify:` is not sent for this run; the caller notifies (opsc drift sends `drift`). */
  notify?: boolean;
}

export interface ExecuteJobResult {
  summary: RunSummary;
  record: CommitRecordResult;
}

export async function executeJob(request: ExecuteJobRequest): Promise<ExecuteJobResult> {
  const env = request.env ?? process.env;
  const loaded = await loadPlan(
    {
      repoDir: request.repoDir,
      ...(request.commit ? { commit: request.commit } : {}),
      ...(request.gitdir ? { gitdir: request.gitdir } : {}),
    },
    {
      job: request.job,
      inputs: request.inputs,
      fromText: request.inputsFromText ?? false,
      trigger: request.trigger,
      ...(request.ref ? { ref: request.ref } : {}),
      ...(request.filter ? { filter: request.filter } : {}),
      checkMode: request.checkMode ?? false,
      ...(request.shard ? { shard: request.shard } : {}),
      ...(request.selection ? { selection: request.selection } : {}),
    },
    request.commit ? request.repo : undefined,
  );
  const { plan, model, files } = loaded;
  if (files.dirty && !request.allowDirty) throw dirtyTreeError(files.dirty);
  // A job with `approval:` runs only with enough signatures of this exact plan.
  const approval = await requireApprovals(plan, files, {
    repoDir: request.repoDir,
    ...(request.gitdir ? { gitdir: request.gitdir } : {}),
    env,
  });
  request.onPlan?.(loaded);

  const redactor = request.redactor ?? new Redactor();
  // The runner's own tokens and identities: a local step can read them, so every run masks them.
  for (const value of await runnerSecrets(env)) redactor.add(value);
  // Identities are read on first use: a job without credentials runs on a machine that holds no key.
  const credentials = CredentialStore.forFiles(files.files, redactor, env);
  preloadRunCode(plan, credentials);
  const factory = createTransportFactory({ redactor, credentials });
  const git = request.gitdir ? { git: new GitRepository(request.gitdir) } : {};
  // The first targets' handshakes (and the decryption of their credential) overlap what is left
  // before the run: recovering interrupted records and taking the target locks, each a round trip
  // to the records remote. Nothing runs on a target before its lock is held.
  factory.connectEarly(firstTargets(plan), request.signal);
  try {
    // Runs cut off by a crash are recorded before a new one starts, so the
    // audit trail stays in the order things happened.
    // Records go to the git dir the caller located (the workspace's, the server's mirror), when it gave one.
    await recoverInterrupted(request.repoDir, {
      settings: model.settings,
      push: request.push,
      redactor,
      env,
      ...git,
    });

    const secrets: Record<string, string> = {};
    for (const [name, ref] of Object.entries(plan.secrets)) {
      const value = await credentials.get(ref);
      if (typeof value !== "string") {
        throw userError(
          "run.secret-not-value",
          `secret ${name} names ${ref}, which is a mapping, not a value`,
          {
            hint: `name one of its keys, for example ${ref}.password`,
          },
        );
      }
      secrets[name] = value;
    }

    const job = model.jobs.get(plan.job)!;
    const notifyOptions = { redactor, credentials, settings: model.settings, env };
    const started =
      job.notify.length > 0 && request.notify !== false
        ? startedNotifier(job.notify, plan, notifyOptions)
        : undefined;

    const runId = newRunId(plan.job, new Date());
    const recorder = new RunRecorder(plan, runId, redactor);
    const journal = new RunJournal(request.repoDir, plan, redactor, env, git.git);
    // Every door runs through here, so CLI runs, Action runs and replicas exclude each other per target.
    const locks = await TargetLocks.take({
      plan,
      runId,
      gitdir: request.gitdir ?? findGitDir(request.repoDir),
      remote: request.push && model.settings.records.push,
      env,
      signal: request.signal,
      onWait: request.onLockWait,
    });
    await runPlan(plan, {
      runId,
      transportFor: factory.transportFor,
      sudoPassword: factory.sudoPassword,
      redactor,
      secrets,
      readRepoFile: (path) => files.files.get(path),
      listeners: [
        recorder.listener,
        journal.listener,
        ...(started ? [started.listener] : []),
        ...(request.listeners ?? []),
      ],
      ...(request.signal ? { signal: request.signal } : {}),
      decided: locks.decided,
      lockLost: (target) => locks.lost(target),
    }).finally(() => Promise.all([locks.release(), factory.closeUnused()]));
    const summary = recorder.summary();
    locks.apply(summary);
    if (approval) Object.assign(summary, { planHash: plan.planHash, approval });
    if (summary.result === "cancelled" && isShutdown(request.signal?.reason)) summary.result = "interrupted";
    if (started) {
      // A failed notification is recorded with the run; it never changes the run's result.
      const previousResult = await previousRunResult(
        request.repoDir,
        model.settings.records.branch,
        job.id,
        runId,
        git.git,
      );
      const sent = await notifyRun(job.notify, summary, {
        ...notifyOptions,
        ...(previousResult ? { previousResult } : {}),
      });
      summary.notifications = [...(await started.settled()), ...sent];
    }
    const record = await commitRecord({
      repoDir: request.repoDir,
      settings: model.settings,
      summary,
      logs: recorder.targetLogs(),
      push: request.push,
      redactor,
      env,
      ...git,
    });
    journal.complete();
    return { summary, record };
  } finally {
    // Also when the run never started (a refused lock, a secret that is not a value).
    await factory.closeUnused();
  }
}

/** The targets the run connects to first: the first batch of its first phase, as many as run at once. */
function firstTargets(plan: LoadedPlan["plan"]): PlannedTarget[] {
  const phase = plan.phases[0];
  const batch = phase?.batches[0] ?? [];
  return batch
    .slice(0, Math.max(1, phase?.parallel ?? 1))
    .map((name) => plan.targets[name])
    .filter((t): t is PlannedTarget => t !== undefined);
}

/** How many dirty paths the refusal lists. */
const SHOWN_DIRTY = 10;

function dirtyTreeError(dirty: DirtyTree): Error {
  const listed = dirty.paths.slice(0, SHOWN_DIRTY).map((p) => `  ${p}`);
  if (dirty.paths.length > SHOWN_DIRTY) listed.push(`  ... and ${dirty.paths.length - SHOWN_DIRTY} more`);
  const on = dirty.base ? `commit ${dirty.base.slice(0, 12)}` : "no commit (the repository has none yet)";
  return userError(
    "run.dirty-tree",
    `the working tree has uncommitted changes to ${dirty.paths.length} automation file(s), on top of ${on}:\n${listed.join("\n")}`,
    {
      hint:
        "commit them so the record names exactly what ran (`git add` and `git commit`), " +
        "or run them as they are with --allow-dirty (the record then lists these paths)",
    },
  );
}
