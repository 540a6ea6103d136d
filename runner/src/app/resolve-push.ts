/**
 * From a push (before, after, ref) to the jobs it runs, reading the job
 * definitions at the pushed commit: the Git side of the push trigger.
 */
import type { Diagnostic } from "../core/diagnostic.js";
import type { JobDef, RepoModel } from "../core/repo-model.js";
import { GitRepository } from "../git/git-repository.js";
import { readLibraries } from "./read-libraries.js";
import { loadRepo } from "../repo/load-repo.js";
import type { RepoFiles } from "../repo/repo-files.js";
import { changedPaths } from "../triggers/changed-paths.js";
import { branchOf } from "../core/branch-of.js";
import { jobsForPush } from "../triggers/match-push.js";

export interface PushRequest {
  before: string;
  after: string;
  ref: string;
}

export interface PushResolution {
  /** The full commit id `after` resolved to. */
  commit: string;
  changed: string[];
  jobs: JobDef[];
  model: RepoModel;
  /** The files `model` was loaded from: a run at this commit reuses both. */
  files: RepoFiles;
  /** Errors in the repository at the pushed commit; when present no job is selected. */
  errors: Diagnostic[];
  /** Why nothing runs, when nothing does. */
  reason?: string;
}

/** The pushed commit already read and loaded (the server's model cache): not read again. */
export interface LoadedCommit {
  model: RepoModel;
  errors: Diagnostic[];
  files: RepoFiles;
}

export async function resolvePush(
  repository: GitRepository | string,
  request: PushRequest,
  loaded?: LoadedCommit | Promise<LoadedCommit>,
): Promise<PushResolution> {
  const repo = GitRepository.of(repository);
  const branch = branchOf(request.ref);
  // The tree diff needs no model: it runs while the commit is read and loaded.
  const changing = branch === undefined ? undefined : changedPaths(repo, request.before, request.after);
  changing?.catch(() => undefined);
  const { model, errors, files } = await (loaded ?? loadCommit(repo, request.after));
  const commit = files.commit!;
  const base = { commit, model, files, errors };
  if (branch === undefined)
    return { ...base, changed: [], jobs: [], reason: `${request.ref} is not a branch` };
  if (branch === model.settings.records.branch) {
    return {
      ...base,
      changed: [],
      jobs: [],
      reason: `${branch} is the records branch; pushes to it never trigger`,
    };
  }
  const changed = await changing!;
  if (errors.length > 0) {
    return {
      ...base,
      changed,
      jobs: [],
      reason: `the repository has ${errors.length} error(s) at ${commit}`,
    };
  }
  const jobs = jobsForPush(model, {
    ref: request.ref,
    changed,
    recordsBranch: model.settings.records.branch,
  });
  return { ...base, changed, jobs, ...(jobs.length === 0 ? { reason: "no job's on.push matches" } : {}) };
}

async function loadCommit(repo: GitRepository, commit: string): Promise<LoadedCommit> {
  const files = await repo.readFiles(commit);
  const { model, diagnostics } = loadRepo(files, await readLibraries(files));
  return { model, errors: diagnostics.filter((d) => d.severity === "error"), files };
}
