/**
 * The server's copy of the automation repository. `--repo URL` keeps a bare
 * mirror in the state directory and fetches on every push delivery; `--repo DIR`
 * reads a local repository as it is. Either way jobs run at an exact commit id,
 * never at "whatever is checked out".
 */
import { errorText } from "../core/error-text.js";
import { displayUrl } from "./display-url.js";
import fs from "node:fs";
import path from "node:path";
import { environmentError, userError } from "../core/errors.js";
import { GitRepository } from "./git-repository.js";
import { authFromEnv, isHttpUrl } from "./remote-auth.js";

export interface RepoMirror {
  /** What the executor is given as `repoDir`. */
  readonly repoDir: string;
  readonly gitdir: string;
  /** The Git adapter on the mirror; its object cache serves every read of the server. */
  readonly repository: GitRepository;
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
  readonly repository: GitRepository;
  constructor(readonly repoDir: string) {
    this.repository = GitRepository.at(repoDir);
    this.gitdir = this.repository.gitdir;
  }
  async fetch(): Promise<void> {}
  async branchHead(branch: string): Promise<string> {
    return this.repository.resolveCommit(`refs/heads/${branch}`);
  }
  async defaultBranch(): Promise<string> {
    return defaultBranchOf(this.repository, "HEAD");
  }
  hasCommit(oid: string): Promise<boolean> {
    return hasCommit(this.repository, oid);
  }
}

class RemoteMirror implements RepoMirror {
  readonly repoDir: string;
  readonly repository: GitRepository;
  private fetching: Promise<void> | null = null;
  private again = false;

  constructor(
    readonly url: string,
    readonly gitdir: string,
  ) {
    this.repoDir = gitdir;
    this.repository = new GitRepository(gitdir);
  }

  async init(): Promise<void> {
    if (!fs.existsSync(path.join(this.gitdir, "HEAD"))) {
      await GitRepository.init({ gitdir: this.gitdir });
    }
    await this.repository.setConfig("remote.origin.url", this.url);
    await this.repository.setConfig("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*");
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
      const onAuth = authFromEnv();
      await this.repository.fetch({ remote: "origin", prune: true, ...(onAuth ? { onAuth } : {}) });
    } catch (e) {
      throw environmentError("serve.fetch-failed", `cannot fetch ${displayUrl(this.url)}: ${errorText(e)}`, {
        hint: "check the URL and, for a private repository, OPSC_GIT_TOKEN",
        cause: e,
      });
    }
  }

  async branchHead(branch: string): Promise<string> {
    return this.repository.resolveCommit(`refs/remotes/origin/${branch}`);
  }

  async defaultBranch(): Promise<string> {
    try {
      const onAuth = authFromEnv();
      const refs = await GitRepository.listServerRefs(this.url, {
        symrefs: true,
        protocolVersion: 1,
        ...(onAuth ? { onAuth } : {}),
      });
      const target = refs.find((r) => r.ref === "HEAD")?.target;
      if (target?.startsWith("refs/heads/")) return target.slice("refs/heads/".length);
    } catch {
      // fall back to the usual name
    }
    return "main";
  }

  hasCommit(oid: string): Promise<boolean> {
    return hasCommit(this.repository, oid);
  }
}

async function defaultBranchOf(repo: GitRepository, ref: string): Promise<string> {
  const full = await repo.expandRef(ref);
  return full.startsWith("refs/heads/") ? full.slice("refs/heads/".length) : "main";
}

async function hasCommit(repo: GitRepository, oid: string): Promise<boolean> {
  if (!/^[0-9a-f]{40}$/.test(oid)) return false;
  return (await repo.objectType(oid)) === "commit";
}
