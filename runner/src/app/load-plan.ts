/**
 * Reads the automation repository (a working tree, or a commit with no
 * checkout), validates it and plans one job. Every door that plans or runs a
 * job goes through here, so they all refuse an invalid repository the same way.
 */
import { readLibraries } from "../app/read-libraries.js";
import type { Diagnostic } from "../core/diagnostic.js";
import { hasErrors } from "../core/diagnostic.js";
import { userError } from "../core/errors.js";
import type { Plan } from "../core/plan-model.js";
import type { RepoModel } from "../core/repo-model.js";
import { findGitDir } from "../git/git-dir.js";
import { readRepoCommit } from "../git/read-tree.js";
import { workingTreeState } from "../git/working-tree-state.js";
import { buildPlan, type PlanRequest } from "../plan/build-plan.js";
import { formatDiagnostics } from "../repo/format-diagnostics.js";
import { loadRepo } from "../repo/load-repo.js";
import { readRepoDir } from "../repo/read-dir.js";
import type { RepoFiles } from "../repo/repo-files.js";

export interface RepoSource {
  /** The automation repository's root folder (a working tree or a bare mirror's git dir owner). */
  repoDir: string;
  /** Read the job definitions at this commit instead of the working tree. */
  commit?: string;
  /** The git dir when it is not `<repoDir>/.git` (a bare mirror). */
  gitdir?: string;
}

export interface LoadedPlan extends LoadedRepo {
  plan: Plan;
}

/** How many diagnostics an error message lists before pointing at `opsc validate`. */
const SHOWN = 5;

function describe(diagnostics: Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === "error");
  const shown = formatDiagnostics(errors.slice(0, SHOWN), "text").trimEnd();
  const more = errors.length > SHOWN ? `\n... and ${errors.length - SHOWN} more` : "";
  return `${shown}${more}`;
}

export async function readRepoFiles(source: RepoSource): Promise<RepoFiles> {
  if (source.commit) return readRepoCommit(source.gitdir ?? findGitDir(source.repoDir), source.commit);
  const files = await readRepoDir(source.repoDir);
  const state = await workingTreeState(source.repoDir, files);
  if (!state) return files;
  if (state.dirty.length === 0 && state.commit) {
    return { ...files, commit: state.commit, ...(state.ref ? { ref: state.ref } : {}) };
  }
  return { ...files, dirty: { ...(state.commit ? { base: state.commit } : {}), paths: state.dirty } };
}

export interface LoadedRepo {
  model: RepoModel;
  files: RepoFiles;
  /** Warnings found while loading; errors never get this far. */
  warnings: Diagnostic[];
}

/** Loads and validates; a repository with errors is refused with the first few of them. */
export async function loadValidRepo(source: RepoSource): Promise<LoadedRepo> {
  const files = await readRepoFiles(source);
  const { model, diagnostics } = loadRepo(files, await readLibraries(files));
  if (hasErrors(diagnostics)) {
    const count = diagnostics.filter((d) => d.severity === "error").length;
    throw userError(
      "repo.invalid",
      `the automation repository has ${count} error(s):\n${describe(diagnostics)}`,
      {
        hint: "run `opsc validate` for the full report, fix the files, then try again",
      },
    );
  }
  return { model, files, warnings: diagnostics };
}

/**
 * `loaded`: the repository already read and validated at `source.commit` (the
 * server's model of a pushed commit), so it is not read and checked again.
 */
export async function loadPlan(
  source: RepoSource,
  request: Omit<PlanRequest, "commit">,
  loaded?: LoadedRepo,
): Promise<LoadedPlan> {
  const { model, files, warnings } = loaded ?? (await loadValidRepo(source));
  const commit = files.commit ?? source.commit;
  const ref = request.ref ?? files.ref;
  const { plan, diagnostics: planProblems } = buildPlan(model, {
    ...request,
    ...(commit ? { commit } : {}),
    ...(files.dirty ? { dirtyTree: files.dirty } : {}),
    ...(ref ? { ref } : {}),
  });
  if (!plan) {
    const first = planProblems.find((d) => d.severity === "error");
    const hint = first?.hint;
    throw userError(first?.code ?? "plan.failed", planProblems.map((d) => d.message).join("; "), {
      ...(hint ? { hint } : {}),
    });
  }
  return { plan, model, files, warnings };
}
