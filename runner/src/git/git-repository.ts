/**
 * The Git adapter: one object per Git directory through which everything else
 * reads, writes, moves refs, fetches and pushes. It is the only way to
 * isomorphic-git outside runner/src/git (a lint rule holds that), and it owns
 * the object cache, so the cache lives as long as the object that uses it and
 * no module keeps a mutable global (see notes/performance.md).
 */
import { gitFs as fs } from "./git-fs.js";
import git, {
  type AuthCallback,
  type CommitObject,
  type ReadCommitResult,
  type TreeEntry,
} from "isomorphic-git";
import { findGitDir } from "./git-dir.js";
import { writeLooseObject, writeTreeObject } from "./loose-object.js";
import { compareAndSwapRef, readRef } from "./ref-lock.js";
import { pushNewObjects, type PushNewObjectsResult } from "./push-new-objects.js";
import { listRepoBlobs, readRepoCommit, resolveCommit, type ReadCommitOptions } from "./read-tree.js";
import { remoteUrl } from "./remote-auth.js";
import { entryAt, listTree, readBlobText, writeTreeWith, type TreeInput } from "./write-tree.js";
import type { RepoFiles } from "../repo/repo-files.js";

export type { AuthCallback, CommitObject, TreeEntry };

export interface FetchOptions {
  /** A remote's name (`origin`), or a URL with `url`. */
  remote?: string;
  url?: string;
  /** One branch (short name); absent: every branch. */
  ref?: string;
  prune?: boolean;
  onAuth?: AuthCallback;
}

export interface PushOptions {
  remote?: string;
  url?: string;
  /** Local ref (short or full name). */
  ref: string;
  remoteRef: string;
  onAuth?: AuthCallback;
  onMessage?: (message: string) => void;
}

/**
 * isomorphic-git's HTTP client, loaded by the first fetch or push: it pulls in
 * node:http, https and zlib, which a run that records locally never needs.
 */
async function httpClient(): Promise<typeof import("isomorphic-git/http/node").default> {
  return (await import("isomorphic-git/http/node")).default;
}

export class GitRepository {
  /** isomorphic-git's object cache: parsed packs and objects, shared by every call on this object. */
  private readonly cache: object = {};

  constructor(readonly gitdir: string) {}

  /** A repository given as an object or as its git directory. */
  static of(repo: GitRepository | string): GitRepository {
    return typeof repo === "string" ? new GitRepository(repo) : repo;
  }

  /** The repository a working tree (or bare repository) at `repoDir` belongs to. */
  static at(repoDir: string): GitRepository {
    return new GitRepository(findGitDir(repoDir));
  }

  /** Creates a repository (`git init`): a bare one in `gitdir`, else a working tree in `dir`. */
  static async init(where: { dir: string } | { gitdir: string }): Promise<GitRepository> {
    if ("gitdir" in where) {
      await git.init({ fs, gitdir: where.gitdir, bare: true, defaultBranch: "main" });
      return new GitRepository(where.gitdir);
    }
    await git.init({ fs, dir: where.dir, defaultBranch: "main" });
    return GitRepository.at(where.dir);
  }

  // Reading

  async readCommit(oid: string): Promise<ReadCommitResult["commit"]> {
    return (await git.readCommit({ fs, gitdir: this.gitdir, oid, cache: this.cache })).commit;
  }

  async readTree(oid: string): Promise<TreeEntry[]> {
    return (await git.readTree({ fs, gitdir: this.gitdir, oid, cache: this.cache })).tree;
  }

  /** The type of an object; null when absent. */
  async objectType(oid: string): Promise<string | null> {
    try {
      return (await git.readObject({ fs, gitdir: this.gitdir, oid, cache: this.cache, format: "parsed" }))
        .type;
    } catch {
      return null;
    }
  }

  async readBlob(oid: string): Promise<Uint8Array> {
    return (await git.readBlob({ fs, gitdir: this.gitdir, oid, cache: this.cache })).blob;
  }

  readBlobText(oid: string): Promise<string> {
    return readBlobText(this.gitdir, oid, this.cache);
  }

  /** The entry at `path` inside a tree, or null. */
  entryAt(tree: string, path: string): Promise<TreeEntry | null> {
    return entryAt(this.gitdir, tree, path, this.cache);
  }

  /** The entries of the tree at `path` ("" for the root), or [] when absent. */
  listTree(tree: string, path: string): Promise<TreeEntry[]> {
    return listTree(this.gitdir, tree, path, this.cache);
  }

  /** The automation repository's files at a commit (see read-tree.ts). */
  readFiles(ref: string, options: ReadCommitOptions = {}): Promise<RepoFiles> {
    return readRepoCommit(this.gitdir, ref, options, this.cache);
  }

  /** The automation repository's files at a commit as (path, blob id), without reading blobs. */
  listFiles(commit: string, options: ReadCommitOptions = {}): Promise<Array<{ path: string; oid: string }>> {
    return listRepoBlobs(this.gitdir, commit, options, this.cache);
  }

  /** A branch, tag, HEAD or (abbreviated) commit id with `~`/`^` suffixes, peeled to a commit id. */
  resolveCommit(ref: string): Promise<string> {
    return resolveCommit(this.gitdir, ref, this.cache);
  }

  /** The commit (or object) a ref holds; null when the ref does not exist. */
  readRef(ref: string): Promise<string | null> {
    return readRef(this.gitdir, ref);
  }

  /** Full names of the local refs below `prefix` (`refs/opsconductor/approvals/job`), sorted. */
  async listRefs(prefix: string): Promise<string[]> {
    const base = prefix.replace(/\/+$/, "");
    const names = await git.listRefs({ fs, gitdir: this.gitdir, filepath: base });
    return names.map((n) => `${base}/${n}`).sort();
  }

  /** The full name a symbolic ref points at (`HEAD` → `refs/heads/main`). */
  expandRef(ref: string): Promise<string> {
    return git.resolveRef({ fs, gitdir: this.gitdir, ref, depth: 2 });
  }

  /** `refs/heads/<branch>` HEAD is on; undefined on a detached HEAD (and, with `test`, before the first commit). */
  async currentBranch(options: { test?: boolean } = {}): Promise<string | undefined> {
    const test = options.test ?? true;
    return (await git.currentBranch({ fs, gitdir: this.gitdir, fullname: true, test })) ?? undefined;
  }

  /** Whether `oid` has `ancestor` in its history (a commit is not its own descendant). */
  isDescendent(oid: string, ancestor: string): Promise<boolean> {
    return git.isDescendent({ fs, gitdir: this.gitdir, oid, ancestor, depth: -1, cache: this.cache });
  }

  /** Where two commits' histories meet; empty when they do not. */
  async mergeBase(a: string, b: string): Promise<string[]> {
    return (await git.findMergeBase({
      fs,
      gitdir: this.gitdir,
      oids: [a, b],
      cache: this.cache,
    })) as string[];
  }

  /**
   * The paths that differ between two commits (`before` null: every path of
   * `after`), descending only into trees whose ids differ, so the cost
   * follows the size of the change rather than the size of the repository.
   */
  async changedPaths(before: string | null, after: string): Promise<string[]> {
    const trees = [git.TREE({ ref: after })];
    if (before !== null) trees.unshift(git.TREE({ ref: before }));
    const changed: string[] = [];
    await git.walk({
      fs,
      gitdir: this.gitdir,
      cache: this.cache,
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

  // Writing

  /** A new tree: `base` with `inputs` written over it, new objects only along the changed paths. */
  writeTreeWith(base: string | null, inputs: TreeInput[]): Promise<string> {
    return writeTreeWith(this.gitdir, base, inputs, this.cache);
  }

  writeTree(entries: TreeEntry[]): Promise<string> {
    return writeTreeObject(this.gitdir, entries);
  }

  writeCommit(commit: CommitObject): Promise<string> {
    return git.writeCommit({ fs, gitdir: this.gitdir, commit });
  }

  /** Writes an object given as its exact content (a commit built byte for byte); returns its id. */
  writeRawObject(type: "commit" | "tree" | "blob", content: Uint8Array): Promise<string> {
    return writeLooseObject(this.gitdir, type, content);
  }

  /** The exact content of an object. */
  async readRawObject(oid: string): Promise<Uint8Array> {
    const o = await git.readObject({ fs, gitdir: this.gitdir, oid, cache: this.cache, format: "content" });
    return o.object as Uint8Array;
  }

  /** Sets a ref unconditionally: only for refs nobody else writes (remote-tracking refs, scratch refs). */
  async writeRef(ref: string, oid: string): Promise<void> {
    await git.writeRef({ fs, gitdir: this.gitdir, ref, value: oid, force: true });
  }

  async deleteRef(ref: string): Promise<void> {
    await git.deleteRef({ fs, gitdir: this.gitdir, ref });
  }

  /** Sets `ref` to `oid` if it still holds `expected` (null: absent); throws RefMovedError otherwise. */
  compareAndSwapRef(ref: string, expected: string | null, oid: string): Promise<void> {
    return compareAndSwapRef(this.gitdir, ref, expected, oid);
  }

  async getConfig(path: string): Promise<unknown> {
    return (await git.getConfig({ fs, gitdir: this.gitdir, path })) as unknown;
  }

  async setConfig(path: string, value: string): Promise<void> {
    await git.setConfig({ fs, gitdir: this.gitdir, path, value });
  }

  // Remotes

  remoteUrl(remote: string): Promise<string | null> {
    return remoteUrl(this.gitdir, remote);
  }

  /** Fetches over smart HTTP(S); the tip fetched (for one branch), when the server says. */
  async fetch(options: FetchOptions): Promise<string | null> {
    const result = await git.fetch({
      fs,
      http: await httpClient(),
      gitdir: this.gitdir,
      cache: this.cache,
      ...(options.remote ? { remote: options.remote } : {}),
      ...(options.url ? { url: options.url } : {}),
      ...(options.ref ? { ref: options.ref, singleBranch: true } : { singleBranch: false }),
      tags: false,
      ...(options.prune ? { prune: true } : {}),
      ...(options.onAuth ? { onAuth: options.onAuth } : {}),
    });
    return result.fetchHead ?? null;
  }

  /** isomorphic-git's push: walks every tree it may need to send (see pushNewObjects for the fast one). */
  async push(
    options: PushOptions,
  ): Promise<{ ok: boolean; error?: string; refs: Record<string, { ok: boolean; error?: string }> }> {
    const result = await git.push({
      fs,
      http: await httpClient(),
      gitdir: this.gitdir,
      cache: this.cache,
      ...(options.remote ? { remote: options.remote } : {}),
      ...(options.url ? { url: options.url } : {}),
      ref: options.ref,
      remoteRef: options.remoteRef,
      ...(options.onAuth ? { onAuth: options.onAuth } : {}),
      ...(options.onMessage ? { onMessage: options.onMessage } : {}),
    });
    return {
      ok: result.ok,
      ...(result.error ? { error: result.error } : {}),
      refs: result.refs as Record<string, { ok: boolean; error?: string }>,
    };
  }

  /** Pushes a fast-forward sending only the new commits' objects (see push-new-objects.ts). */
  pushNewObjects(options: {
    url: string;
    ref: string;
    oid: string;
    onAuth?: AuthCallback;
    /** Called with the remote's tip before anything is sent; throwing stops the push. */
    checkRemoteTip?: (remoteTip: string) => Promise<void>;
  }): Promise<PushNewObjectsResult> {
    return pushNewObjects({ ...options, gitdir: this.gitdir, cache: this.cache });
  }

  /** The refs a server advertises (no local repository needed). */
  static async listServerRefs(
    url: string,
    options: { prefix?: string; symrefs?: boolean; protocolVersion?: 1 | 2; onAuth?: AuthCallback } = {},
  ): Promise<Array<{ ref: string; oid: string; target?: string }>> {
    return git.listServerRefs({
      http: await httpClient(),
      url,
      ...(options.prefix ? { prefix: options.prefix } : {}),
      ...(options.symrefs ? { symrefs: true } : {}),
      ...(options.protocolVersion ? { protocolVersion: options.protocolVersion } : {}),
      ...(options.onAuth ? { onAuth: options.onAuth } : {}),
    });
  }
}
