/**
 * Where the automation repository is, found once per command: its folder
 * (`--repo`, or the nearest folder upward that holds opsconductor.yaml), the
 * Git repository it belongs to, its folder inside that Git repository, and the
 * runner's local state directory. Every door locates the repository here.
 */
import { existsSync, statSync } from "node:fs";
import path, { dirname, join, resolve } from "node:path";
import { userError } from "../core/errors.js";
import { findUp } from "../fs/find-up.js";
import { findGitDir } from "../git/git-dir.js";
import type { GitRepository } from "../git/git-repository.js";
import { runnerStateDir } from "../records/runner-state-dir.js";

export interface Workspace {
  /** The automation repository's folder: the one that holds opsconductor.yaml. */
  root: string;
  /** The Git directory it belongs to. */
  gitdir: string;
  /** The automation repository's folder inside the Git repository (posix, relative), when not its root. */
  subdir?: string;
  /** The runner's local state: `$OPSC_STATE_DIR`, else `<gitdir>/opsconductor`. */
  stateDir: string;
  /** The Git adapter on `gitdir`. */
  git: GitRepository;
}

/**
 * The workspace of `--repo` (or the working directory's automation repository).
 * Git is loaded here, on use: commands that only find the root (validate) load none of it.
 */
export async function openWorkspace(
  explicit?: string,
  options: { from?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Workspace> {
  const { GitRepository } = await import("../git/git-repository.js");
  const root = findRepoRoot(explicit, options.from);
  const { gitdir, root: subdir } = locateGit(root);
  const env = options.env ?? process.env;
  return {
    root,
    gitdir,
    ...(subdir ? { subdir } : {}),
    stateDir: runnerStateDir(gitdir, env),
    git: new GitRepository(gitdir),
  };
}

/**
 * The Git directory holding an automation repository and the repository's
 * folder inside it: the automation repository may live in a subfolder (`ops/`)
 * of a larger Git repository.
 */
export function locateGit(repoDir: string): { gitdir: string; root?: string } {
  const dotGit = findUp(".git", repoDir);
  if (dotGit === undefined) return { gitdir: findGitDir(repoDir) };
  const dir = path.dirname(dotGit);
  const root = path.relative(dir, path.resolve(repoDir)).split(path.sep).join("/");
  return { gitdir: findGitDir(dir), ...(root ? { root } : {}) };
}

/** Makes `root` a Git working tree (`git init`) unless it already is one. */
export async function ensureGitRepository(root: string): Promise<void> {
  if (existsSync(join(root, ".git"))) return;
  const { GitRepository } = await import("../git/git-repository.js");
  await GitRepository.init({ dir: root });
}

export function findRepoRoot(explicit?: string, from: string = process.cwd()): string {
  if (explicit !== undefined) {
    const root = resolve(from, explicit);
    if (!existsSync(root) || !statSync(root).isDirectory()) {
      throw userError("repo.not-found", `--repo ${explicit}: no such folder`, {
        hint: "give the folder that holds opsconductor.yaml",
      });
    }
    if (!existsSync(join(root, "opsconductor.yaml"))) {
      throw userError(
        "repo.not-found",
        `${explicit} is not an automation repository (it has no opsconductor.yaml)`,
        {
          hint: "give the folder that holds opsconductor.yaml, or create one with `opsc init`",
        },
      );
    }
    return root;
  }
  const found = findUp("opsconductor.yaml", from);
  if (found !== undefined) return dirname(found);
  throw userError(
    "repo.not-found",
    "not inside an automation repository (no opsconductor.yaml here or in any parent folder)",
    {
      hint: "run the command inside one, pass --repo DIR, or create one with `opsc init`",
    },
  );
}
