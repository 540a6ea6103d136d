/**
 * Reads an automation repository straight from a Git commit, without a
 * checkout, so plans on pull requests and the server see exactly what was
 * committed. Calls share the object cache of the GitRepository that makes them
 * (see notes/performance.md).
 */
import { gitFs as fs } from "./git-fs.js";
import git from "isomorphic-git";
import { errorText } from "../core/error-text.js";
import { environmentError, userError } from "../core/errors.js";
import { isRepoFolder, isRepoPath, MAX_FILE_BYTES, type RepoFiles } from "../repo/repo-files.js";

/** Mode of a symbolic link: skipped, as the directory reader skips links. */
const SYMLINK_MODE = "120000";

export interface ReadCommitOptions {
  /**
   * Folder of the automation repository inside the Git repository (posix,
   * relative, e.g. `ops`), when it is not the Git root. Paths in the result are
   * relative to it, as readRepoDir(root) would give them.
   */
  root?: string;
}

export async function readRepoCommit(
  gitdir: string,
  ref: string,
  options: ReadCommitOptions = {},
  cache: object = {},
): Promise<RepoFiles> {
  const commit = await resolveCommit(gitdir, ref, cache);
  const blobs = await listRepoBlobs(gitdir, commit, options, cache);
  const files = new Map<string, Uint8Array>();
  for (const { path, oid } of blobs) {
    const { blob } = await git.readBlob({ fs, gitdir, oid, cache });
    // Same cap as the directory reader, so both sources load identically.
    files.set(path, blob.length > MAX_FILE_BYTES + 1 ? blob.subarray(0, MAX_FILE_BYTES + 1) : blob);
  }
  return { files, commit };
}

/**
 * The automation repository's files at a commit as (path, blob id) pairs, sorted,
 * without reading any blob: enough to compare a working tree with a commit.
 */
export async function listRepoBlobs(
  gitdir: string,
  commit: string,
  options: ReadCommitOptions = {},
  cache: object = {},
): Promise<Array<{ path: string; oid: string }>> {
  const { commit: head } = await git.readCommit({ fs, gitdir, oid: commit, cache });
  const blobs: Array<{ path: string; oid: string }> = [];
  const tree = await subtree(gitdir, head.tree, options.root ?? "", commit, cache);
  await walkTree(gitdir, tree, "", blobs, cache);
  return blobs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function subtree(
  gitdir: string,
  oid: string,
  root: string,
  ref: string,
  cache: object,
): Promise<string> {
  let at = oid;
  for (const name of root.split("/").filter((s) => s !== "" && s !== ".")) {
    const { tree } = await git.readTree({ fs, gitdir, oid: at, cache });
    const entry = tree.find((e) => e.path === name && e.type === "tree");
    if (!entry) {
      throw userError("git.no-such-folder", `${ref} has no folder ${root}`, {
        hint: "give the automation repository's folder relative to the Git repository's root",
      });
    }
    at = entry.oid;
  }
  return at;
}

async function walkTree(
  gitdir: string,
  oid: string,
  prefix: string,
  out: Array<{ path: string; oid: string }>,
  cache: object,
): Promise<void> {
  const { tree } = await git.readTree({ fs, gitdir, oid, cache });
  for (const entry of tree) {
    const path = prefix ? `${prefix}/${entry.path}` : entry.path;
    if (entry.type === "tree") {
      if (isRepoFolder(path)) await walkTree(gitdir, entry.oid, path, out, cache);
    } else if (entry.type === "blob" && entry.mode !== SYMLINK_MODE && isRepoPath(path)) {
      out.push({ path, oid: entry.oid });
    }
  }
}

/**
 * A branch, tag, `HEAD` or (abbreviated) commit id, peeled to a commit id, with
 * git's ancestry suffixes (`HEAD~2`, `main^`, `v1.0^2`), as reviewers type them.
 */
export async function resolveCommit(gitdir: string, ref: string, cache: object = {}): Promise<string> {
  const m = /^(.*?)((?:[~^]\d*)*)$/.exec(ref);
  const base = m?.[1] ?? ref;
  let oid = await peelToCommit(gitdir, base, ref, cache);
  for (const [, op, digits] of (m?.[2] ?? "").matchAll(/([~^])(\d*)/g)) {
    const n = digits === "" ? 1 : Number(digits);
    if (op === "^") {
      if (n === 0) continue;
      oid = await parentOf(gitdir, oid, n - 1, ref, cache);
    } else {
      for (let i = 0; i < n; i++) oid = await parentOf(gitdir, oid, 0, ref, cache);
    }
  }
  return oid;
}

async function parentOf(
  gitdir: string,
  oid: string,
  index: number,
  ref: string,
  cache: object,
): Promise<string> {
  const { commit } = await git.readCommit({ fs, gitdir, oid, cache });
  const parent = commit.parent[index];
  if (!parent) {
    throw userError(
      "git.unknown-ref",
      `"${ref}" goes past the first commit (or names a parent that does not exist)`,
      {
        hint: "check the history with `git log --oneline`",
      },
    );
  }
  return parent;
}

async function peelToCommit(gitdir: string, base: string, ref: string, cache: object): Promise<string> {
  if (base === "") throw refError(gitdir, ref, Object.assign(new Error("empty"), { code: "NotFoundError" }));
  let oid: string;
  try {
    oid = await git.resolveRef({ fs, gitdir, ref: base });
  } catch (e) {
    if (!/^[0-9a-f]{4,40}$/i.test(base)) throw refError(gitdir, ref, e);
    try {
      oid = await git.expandOid({ fs, gitdir, oid: base.toLowerCase(), cache });
    } catch (e2) {
      throw refError(gitdir, ref, e2);
    }
  }
  // Annotated tags point at a tag object; follow them to the commit.
  for (let depth = 0; depth < 10; depth++) {
    let obj: Awaited<ReturnType<typeof git.readObject>>;
    try {
      obj = await git.readObject({ fs, gitdir, oid, cache });
    } catch (e) {
      throw refError(gitdir, ref, e);
    }
    if (obj.type === "commit") return oid;
    if (
      obj.type === "tag" &&
      typeof obj.object === "object" &&
      obj.object !== null &&
      "object" in obj.object
    ) {
      oid = (obj.object as { object: string }).object;
      continue;
    }
    throw userError("git.not-a-commit", `${ref} names a ${obj.type}, not a commit`, {
      hint: "give a branch, a tag or a commit id",
    });
  }
  throw userError("git.not-a-commit", `${ref} is a chain of tags too long to follow`);
}

function refError(gitdir: string, ref: string, cause: unknown): Error {
  const code = (cause as { code?: string }).code;
  if (code === "NotFoundError" || code === "AmbiguousError") {
    return userError("git.unknown-ref", `no branch, tag or commit "${ref}" in ${gitdir}`, {
      hint: "check the name with `git branch -a` or `git log --oneline`; a commit from elsewhere must be fetched first",
      cause,
    });
  }
  return environmentError("git.unreadable", `cannot read Git repository ${gitdir}: ${errorText(cause)}`, {
    hint: "give the path of a Git directory (the `.git` folder, or a bare repository)",
    cause,
  });
}
