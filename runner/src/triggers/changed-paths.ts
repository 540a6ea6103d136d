/**
 * The paths a push changed: a tree diff of two commits that descends only into
 * trees whose ids differ, so the cost follows the size of the change rather
 * than the size of the repository.
 */
import { GitRepository } from "../git/git-repository.js";

/** What GitHub sends as `before` when a branch is created. */
export const ZERO_SHA = "0".repeat(40);

export async function changedPaths(
  repository: GitRepository | string,
  before: string,
  after: string,
): Promise<string[]> {
  const repo = GitRepository.of(repository);
  const afterOid = await repo.resolveCommit(after);
  // A new branch has no "before": every path of the pushed commit counts as changed.
  const beforeOid = /^0+$/.test(before) ? null : await repo.resolveCommit(before);
  return repo.changedPaths(beforeOid, afterOid);
}
