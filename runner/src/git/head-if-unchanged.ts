/**
 * When a job is run from a working tree, the record should still name the
 * commit it ran, so `git show <commit>` shows what ran. That holds only if the
 * automation files on disk are exactly those of HEAD: compared by blob id, which
 * reads trees but no blobs and never the whole working tree (no status scan).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import git from "isomorphic-git";
import type { RepoFiles } from "../repo/repo-files.js";
import { findGitDir } from "./git-dir.js";
import { listRepoBlobs } from "./read-tree.js";

function blobId(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

export interface HeadCommit {
  commit: string;
  /** `refs/heads/<branch>`, absent on a detached HEAD. */
  ref?: string;
}

/** HEAD when the repository's files on disk equal HEAD's; undefined otherwise (or without Git). */
export async function headIfUnchanged(repoDir: string, files: RepoFiles): Promise<HeadCommit | undefined> {
  let gitdir: string;
  let commit: string;
  try {
    gitdir = findGitDir(repoDir);
    commit = await git.resolveRef({ fs, gitdir, ref: "HEAD" });
  } catch {
    return undefined; // not a Git repository, or no commit yet
  }
  const blobs = await listRepoBlobs(gitdir, commit);
  if (blobs.length !== files.files.size) return undefined;
  for (const { path, oid } of blobs) {
    const bytes = files.files.get(path);
    if (!bytes || blobId(bytes) !== oid) return undefined;
  }
  const branch = await git.currentBranch({ fs, gitdir, fullname: true, test: true }).catch(() => undefined);
  return { commit, ...(branch ? { ref: branch } : {}) };
}
