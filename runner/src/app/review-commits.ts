/**
 * Reads the automation repository at two commits (no checkout) and diffs
 * them: what `opsc diff` and the action's pull-request review print.
 */
import { GitRepository } from "../git/git-repository.js";
import { readLibraries } from "./read-libraries.js";
import { planLibraries } from "../repo/library-lock.js";
import { loadRepo } from "../repo/load-repo.js";

import { diffRepos } from "../review/diff-repos.js";
import type { Review } from "../review/render-diff.js";

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
  const repo = new GitRepository(request.gitdir);
  const [baseFiles, headFiles] = await Promise.all([
    repo.readFiles(request.base, options),
    repo.readFiles(request.head, options),
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
 * Where a pull request's branch left its base: diffing from there shows what
 * the pull request changes and nothing the base gained since (GitHub's own
 * "files changed" view). Falls back to `base` when the histories do not meet.
 */
export async function mergeBaseOf(gitdir: string, base: string, head: string): Promise<string> {
  const repo = new GitRepository(gitdir);
  const [a, b] = await Promise.all([repo.resolveCommit(base), repo.resolveCommit(head)]);
  const found = await repo.mergeBase(a, b);
  return found[0] ?? a;
}
