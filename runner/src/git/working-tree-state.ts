/**
 * When a job is run from a working tree, the record should still name the
 * commit it ran, so `git show <commit>` shows what ran. That holds only if the
 * automation files on disk are exactly those of HEAD: compared by blob id, which
 * reads trees but no blobs and never the whole working tree (no status scan,
 * which is far too slow on a big repository). Only files the loader reads count:
 * a stray top-level YAML file is not part of what runs.
 */
import { createHash } from "node:crypto";
import { gitFs as fs } from "./git-fs.js";
import git from "isomorphic-git";
import { classifyPath } from "../repo/checks/check-layout.js";
import type { RepoFiles } from "../repo/repo-files.js";
import { findGitDir } from "./git-dir.js";
import { listRepoBlobs } from "./read-tree.js";

function blobId(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

export interface WorkingTreeState {
  /** HEAD's commit; absent in a repository with no commit yet. */
  commit?: string;
  /** `refs/heads/<branch>`, absent on a detached HEAD. */
  ref?: string;
  /** Automation files that differ from HEAD (changed, added or deleted), sorted; empty when clean. */
  dirty: string[];
}

const isRead = (path: string): boolean => classifyPath(path).kind !== "unknown";

/** How the repository's files on disk compare with HEAD; undefined outside Git. */
export async function workingTreeState(
  repoDir: string,
  files: RepoFiles,
): Promise<WorkingTreeState | undefined> {
  let gitdir: string;
  try {
    gitdir = findGitDir(repoDir);
  } catch {
    return undefined;
  }
  const commit = await git.resolveRef({ fs, gitdir, ref: "HEAD" }).catch(() => undefined);
  const blobs = commit ? await listRepoBlobs(gitdir, commit) : [];
  const dirty = new Set<string>();
  const atHead = new Set<string>();
  for (const { path, oid } of blobs) {
    atHead.add(path);
    const bytes = files.files.get(path);
    if ((!bytes || blobId(bytes) !== oid) && isRead(path)) dirty.add(path);
  }
  for (const path of files.files.keys()) if (!atHead.has(path) && isRead(path)) dirty.add(path);
  const branch = await git.currentBranch({ fs, gitdir, fullname: true, test: true }).catch(() => undefined);
  return {
    ...(commit ? { commit } : {}),
    ...(branch ? { ref: branch } : {}),
    dirty: [...dirty].sort(),
  };
}
