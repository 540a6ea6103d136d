/**
 * Reads the automation repository at two commits (no checkout) and diffs
 * them: what `opsc diff` and the action's pull-request review print.
 */
import fs from "node:fs";
import { readLibraries } from "../app/read-libraries.js";
import path from "node:path";
import { findGitDir } from "../git/git-dir.js";
import git from "isomorphic-git";
import { gitCache, readRepoCommit, resolveCommit } from "../git/read-tree.js";
import { planLibraries } from "../repo/library-lock.js";
import { loadRepo } from "../repo/load-repo.js";

import { diffRepos } from "./diff-repos.js";
import type { Review } from "./render-diff.js";

export interface ReviewRequest {
  gitdir: string;
  /** Folder of the automation repository inside the Git repository (posix, relative), when not its root. */
  root?: string;
  base: string;
  head: string;
  at: Date;
}

export async function reviewCommits(request: ReviewRequest): Promise<Review> {
  const options = request.root ? { root: request.root } : {};
  const [baseFiles, headFiles] = await Promise.all([
    readRepoCommit(request.gitdir, request.base, options),
    readRepoCommit(request.gitdir, request.head, options),
  ]);
  const base = loadRepo(baseFiles, await readLibraries(baseFiles));
  // The head may come from anyone's pull request: credentials only go where the base already sent them.
  const trustedUrls = new Set(planLibraries(baseFiles).declared.map((d) => d.url));
  const head = loadRepo(headFiles, await readLibraries(headFiles, { trustedUrls }));
  const errors = (d: typeof base.diagnostics): number => d.filter((x) => x.severity === "error").length;
  return {
    base: { commit: baseFiles.commit!, errors: errors(base.diagnostics) },
    head: { commit: headFiles.commit!, errors: errors(head.diagnostics) },
    diff: diffRepos(base.model, head.model, { at: request.at }),
  };
}

/**
 * The Git directory holding an automation repository and the repository's
 * folder inside it: the automation repository may live in a subfolder (`ops/`)
 * of a larger Git repository.
 */
export function locateGit(repoDir: string): { gitdir: string; root?: string } {
  let dir = path.resolve(repoDir);
  for (;;) {
    if (fs.existsSync(path.join(dir, ".git"))) {
      const root = path.relative(dir, path.resolve(repoDir)).split(path.sep).join("/");
      return { gitdir: findGitDir(dir), ...(root ? { root } : {}) };
    }
    const parent = path.dirname(dir);
    if (parent === dir) return { gitdir: findGitDir(repoDir) };
    dir = parent;
  }
}

/**
 * Where a pull request's branch left its base: diffing from there shows what
 * the pull request changes and nothing the base gained since (GitHub's own
 * "files changed" view). Falls back to `base` when the histories do not meet.
 */
export async function mergeBaseOf(gitdir: string, base: string, head: string): Promise<string> {
  const [a, b] = await Promise.all([resolveCommit(gitdir, base), resolveCommit(gitdir, head)]);
  const found = (await git.findMergeBase({ fs, gitdir, oids: [a, b], cache: gitCache })) as string[];
  return found[0] ?? a;
}
