/**
 * The server's copy of the automation repository. `--repo URL` keeps a bare
 * mirror in the state directory and fetches on every push delivery; `--repo DIR`
 * reads a local repository as it is. Either way jobs run at an exact commit id,
 * never at "whatever is checked out".
 */
import { errorText } from "../core/error-text.js";
import { displayUrl } from "../git/display-url.js";
import fs from "node:fs";
import path from "node:path";
import git from "isomorphic-git";
import http from "isomorphic-git/http/node";
import { environmentError, userError } from "../core/errors.js";
import { findGitDir } from "../git/git-dir.js";
import { authFromEnv, isHttpUrl } from "../git/remote-auth.js";
import { gitCache, resolveCommit } from "../git/read-tree.js";

export interface RepoMirror {
  /** What the executor is given as `repoDir`. */
  readonly repoDir: string;
  readonly gitdir: string;
  /** The remote URL, when the source is remote (claims need one). */
  readonly url?: string;
  /** Brings the mirror up to date (no-op for a local directory). */
  fetch(): Promise<void>;
  /** The commit a branch points at. */
  branchHead(branch: string): Promise<string>;
  /** The branch HEAD names (`main`). */
  defaultBranch(): Promise<string>;
  /** Whether a commit is present. */
  hasCommit(oid: string): Promise<boolean>;
}

export async function openMirror(source: string, stateDir: string): Promise<RepoMirror> {
  if (isHttpUrl(source)) {
    const mirror = new RemoteMirror(source, path.join(stateDir, "mirror.git"));
    await mirror.init();
    return mirror;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^[^/]+@[^:]+:/.test(source)) {
    throw userError(
      "serve.unsupported-remote",
      `cannot mirror ${source}: only http(s) remotes are supported`,
      {
        hint: "use the repository's https URL (with OPSC_GIT_TOKEN for a private one), or a local directory",
      },
    );
  }
  return new LocalMirror(path.resolve(source));
}

class LocalMirror implements RepoMirror {
  readonly gitdir: string;
  constructor(readonly repoDir: string) {
    this.gitdir = findGitDir(repoDir);
  }
  async fetch(): Promise<void> {}
  async branchHead(branch: string): Promise<string> {
    return resolveCommit(this.gitdir, `refs/heads/${branch}`);
  }
  async defaultBranch(): Promise<string> {
    return defaultBranchOf(this.gitdir, "HEAD");
  }
  hasCommit(oid: string): Promise<boolean> {
    return hasCommit(this.gitdir, oid);
  }
}

class RemoteMirror implements RepoMirror {
  readonly repoDir: string;
  private fetching: Promise<void> | null = null;
  private again = false;

  constructor(
    readonly url: string,
    readonly gitdir: string,
  ) {
    this.repoDir = gitdir;
  }

  async init(): Promise<void> {
    if (!fs.existsSync(path.join(this.gitdir, "HEAD"))) {
      await git.init({ fs, gitdir: this.gitdir, bare: true, defaultBranch: "main" });
    }
    await git.setConfig({ fs, gitdir: this.gitdir, path: "remote.origin.url", value: this.url });
    await git.setConfig({
      fs,
      gitdir: this.gitdir,
      path: "remote.origin.fetch",
      value: "+refs/heads/*:refs/remotes/origin/*",
    });
    await this.fetch();
  }

  /** Concurrent callers share one fetch; a call during a fetch causes one more afterwards. */
  fetch(): Promise<void> {
    if (this.fetching) {
      this.again = true;
      return this.fetching;
    }
    this.fetching = (async () => {
      try {
        do {
          this.again = false;
          await this.fetchOnce();
        } while (this.again);
      } finally {
        this.fetching = null;
      }
    })();
    return this.fetching;
  }

  private async fetchOnce(): Promise<void> {
    try {
      await git.fetch({
        fs,
        http,
        gitdir: this.gitdir,
        remote: "origin",
        singleBranch: false,
        tags: false,
        prune: true,
        cache: gitCache,
        onAuth: authFromEnv(),
      });
    } catch (e) {
      throw environmentError("serve.fetch-failed", `cannot fetch ${displayUrl(this.url)}: ${errorText(e)}`, {
        hint: "check the URL and, for a private repository, OPSC_GIT_TOKEN",
        cause: e,
      });
    }
  }

  async branchHead(branch: string): Promise<string> {
    return resolveCommit(this.gitdir, `refs/remotes/origin/${branch}`);
  }

  async defaultBranch(): Promise<string> {
    try {
      const refs = await git.listServerRefs({
        http,
        url: this.url,
        symrefs: true,
        protocolVersion: 1,
        onAuth: authFromEnv(),
      });
      const target = refs.find((r) => r.ref === "HEAD")?.target;
      if (target?.startsWith("refs/heads/")) return target.slice("refs/heads/".length);
    } catch {
      // fall back to the usual name
    }
    return "main";
  }

  hasCommit(oid: string): Promise<boolean> {
    return hasCommit(this.gitdir, oid);
  }
}

async function defaultBranchOf(gitdir: string, ref: string): Promise<string> {
  const full = await git.resolveRef({ fs, gitdir, ref, depth: 2 });
  return full.startsWith("refs/heads/") ? full.slice("refs/heads/".length) : "main";
}

async function hasCommit(gitdir: string, oid: string): Promise<boolean> {
  if (!/^[0-9a-f]{40}$/.test(oid)) return false;
  try {
    const o = await git.readObject({ fs, gitdir, oid, cache: gitCache, format: "parsed" });
    return o.type === "commit";
  } catch {
    return false;
  }
}
