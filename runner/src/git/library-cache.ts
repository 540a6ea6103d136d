/**
 * The machine-wide cache of step-library repositories: one bare repository
 * per library URL under `$OPSC_CACHE_DIR/libraries/` (default
 * `$XDG_CACHE_HOME/opsconductor`, else `~/.cache/opsconductor`), shared by
 * every run on the machine. A commit already in the cache is read with no
 * network at all; fetching is the only thing that talks to the remote.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import git, { type AuthCallback } from "isomorphic-git";
import http from "isomorphic-git/http/node";
import { environmentError, userError } from "../core/errors.js";
import { displayUrl } from "./display-url.js";
import { mirroredUrl } from "./library-mirror.js";

/** Mode of a symbolic link: never read, as the repository readers skip links. */
const SYMLINK_MODE = "120000";

export function libraryCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OPSC_CACHE_DIR) return path.join(env.OPSC_CACHE_DIR, "libraries");
  const xdg = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), ".cache");
  return path.join(xdg, "opsconductor", "libraries");
}

/** The cache entry (a bare git dir) of one library URL. */
export function libraryCacheDir(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const key = createHash("sha256").update(url).digest("hex").slice(0, 32);
  return path.join(libraryCacheRoot(env), key);
}

/** Whether the cache holds a commit; "damaged" when the entry cannot even be read. */
export async function commitState(gitdir: string, commit: string): Promise<"present" | "absent" | "damaged"> {
  if (!fs.existsSync(path.join(gitdir, "HEAD"))) return "absent";
  try {
    await git.readCommit({ fs, gitdir, oid: commit, cache: {} });
    return "present";
  } catch (e) {
    return (e as { code?: string }).code === "NotFoundError" ? "absent" : "damaged";
  }
}

/**
 * Brings every branch and tag of `url` into the cache entry, creating it
 * first (in a temporary folder renamed into place, so a reader never sees
 * half a repository). Moved tags are updated. The entry stays keyed by `url`
 * when OPSC_LIBRARY_MIRROR sends the fetch elsewhere.
 */
export async function fetchLibrary(
  gitdir: string,
  url: string,
  onAuth?: AuthCallback,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const from = mirroredUrl(url, env);
  if (!fs.existsSync(path.join(gitdir, "HEAD"))) {
    const tmp = `${gitdir}.tmp-${randomBytes(6).toString("hex")}`;
    fs.mkdirSync(tmp, { recursive: true });
    await git.init({ fs, gitdir: tmp, bare: true });
    await git.addRemote({ fs, gitdir: tmp, remote: "origin", url });
    try {
      await fetchInto(tmp, url, from, onAuth);
      fs.rmSync(gitdir, { recursive: true, force: true });
      fs.renameSync(tmp, gitdir);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return;
  }
  await fetchInto(gitdir, url, from, onAuth);
}

async function fetchInto(gitdir: string, url: string, from: string, onAuth?: AuthCallback): Promise<void> {
  try {
    await git.fetch({
      fs,
      http,
      gitdir,
      url: from,
      remote: "origin",
      singleBranch: false,
      tags: true,
      prune: true,
      pruneTags: true,
      ...(onAuth ? { onAuth } : {}),
    });
  } catch (e) {
    throw remoteError(url, from, e);
  }
}

/** Removes a cache entry (found corrupt); the next fetch starts over. */
export function discardLibraryCache(gitdir: string): void {
  fs.rmSync(gitdir, { recursive: true, force: true });
}

/**
 * The commit `ref` names on the remote right now: a tag (peeled), a branch,
 * or a full commit id (taken as is; the fetch then shows whether it exists).
 */
export async function resolveRemoteRef(
  url: string,
  ref: string,
  onAuth?: AuthCallback,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (/^[0-9a-f]{40}$/.test(ref)) return ref;
  const from = mirroredUrl(url, env);
  let refs: Awaited<ReturnType<typeof git.listServerRefs>>;
  try {
    refs = await git.listServerRefs({
      http,
      url: from,
      peelTags: true,
      ...(onAuth ? { onAuth } : {}),
    });
  } catch (e) {
    throw remoteError(url, from, e);
  }
  const candidates = ref.startsWith("refs/") ? [ref] : [`refs/tags/${ref}`, `refs/heads/${ref}`];
  for (const name of candidates) {
    const found = refs.find((r) => r.ref === name);
    if (found) return found.peeled ?? found.oid;
  }
  throw userError("library.unknown-ref", `${where(url, from)} has no tag or branch "${ref}"`, {
    hint: "fix `ref` of the library in opsconductor.yaml (a tag, a branch or a full commit id)",
  });
}

export interface LibraryTree {
  /** Paths relative to `root` (`steps/apt/install.yaml`) -> content. */
  files: Map<string, Uint8Array>;
}

/**
 * The files under `<root>/steps/` at a commit, read from the cache. Throws
 * whatever a damaged object store throws: the caller treats it as corruption.
 */
export async function readLibraryTree(gitdir: string, commit: string, root: string): Promise<LibraryTree> {
  const cache = {};
  const { commit: c } = await git.readCommit({ fs, gitdir, oid: commit, cache });
  let oid: string | undefined = c.tree;
  for (const name of [...root.split("/").filter((s) => s !== ""), "steps"]) {
    const { tree } = await git.readTree({ fs, gitdir, oid, cache });
    oid = tree.find((e) => e.path === name && e.type === "tree")?.oid;
    if (!oid) return { files: new Map() };
  }
  const files = new Map<string, Uint8Array>();
  const walk = async (treeOid: string, prefix: string): Promise<void> => {
    const { tree } = await git.readTree({ fs, gitdir, oid: treeOid, cache });
    for (const e of tree) {
      const rel = `${prefix}/${e.path}`;
      if (e.type === "tree") await walk(e.oid, rel);
      else if (e.type === "blob" && e.mode !== SYMLINK_MODE && /\.ya?ml$/.test(e.path)) {
        const { blob } = await git.readBlob({ fs, gitdir, oid: e.oid, cache });
        files.set(rel, blob);
      }
    }
  };
  await walk(oid, "steps");
  return { files: new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
}

/** Committer date of a commit in the cache, ISO 8601 UTC. */
export async function commitDate(gitdir: string, commit: string): Promise<string> {
  const { commit: c } = await git.readCommit({ fs, gitdir, oid: commit, cache: {} });
  return new Date(c.committer.timestamp * 1000).toISOString();
}

/** The remote named in messages: the library's URL, and the mirror that stood in for it. */
function where(url: string, from: string): string {
  return from === url
    ? displayUrl(url)
    : `${displayUrl(url)} (through its mirror ${displayUrl(from)}, from OPSC_LIBRARY_MIRROR)`;
}

function remoteError(url: string, from: string, e: unknown): Error {
  const err = e as { code?: string; data?: { statusCode?: number }; message?: string };
  const status = err.data?.statusCode;
  if (status === 401 || status === 403) {
    return environmentError("library.auth-failed", `${where(url, from)} refused access (HTTP ${status})`, {
      hint: "set OPSC_GIT_TOKEN to a token that can read the library, or give the library a `credential:` in opsconductor.yaml",
      cause: e,
    });
  }
  return environmentError(
    "library.unreachable",
    `cannot fetch step library ${where(url, from)}: ${err.message ?? String(e)}`,
    {
      hint:
        from === url
          ? "check the URL and the network; where this machine cannot reach it, map it to a mirror with OPSC_LIBRARY_MIRROR (docs/libraries.md). A library already in the cache is used without the network"
          : "check that the mirror is up and serves this repository, or fix OPSC_LIBRARY_MIRROR (docs/libraries.md)",
      cause: e,
    },
  );
}
