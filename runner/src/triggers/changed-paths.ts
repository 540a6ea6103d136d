/**
 * The paths a push changed: a tree diff of two commits through isomorphic-git
 * `walk`, descending only into trees whose ids differ, so the cost follows the
 * size of the change rather than the size of the repository.
 */
import fs from "node:fs";
import git from "isomorphic-git";
import { gitCache, resolveCommit } from "../git/read-tree.js";

/** What GitHub sends as `before` when a branch is created. */
export const ZERO_SHA = "0".repeat(40);

export async function changedPaths(gitdir: string, before: string, after: string): Promise<string[]> {
  const afterOid = await resolveCommit(gitdir, after);
  const trees = [git.TREE({ ref: afterOid })];
  // A new branch has no "before": every path of the pushed commit counts as changed.
  if (!/^0+$/.test(before)) trees.unshift(git.TREE({ ref: await resolveCommit(gitdir, before) }));
  const changed: string[] = [];
  await git.walk({
    fs,
    gitdir,
    cache: gitCache,
    trees,
    map: async (path, entries) => {
      if (path === ".") return true;
      const [a, b] = trees.length === 2 ? entries : [null, entries[0]];
      const [aType, bType] = await Promise.all([a?.type(), b?.type()]);
      const [aOid, bOid] = await Promise.all([a?.oid(), b?.oid()]);
      if (aOid !== undefined && aOid === bOid) return null; // identical subtree or blob: skip it whole
      // Oids differ here (or one side is missing), so any blob side is a change.
      if (aType === "blob" || bType === "blob") changed.push(path);
      // Descend only where one side is a tree.
      return aType === "tree" || bType === "tree" ? true : null;
    },
  });
  return [...new Set(changed)].sort();
}
