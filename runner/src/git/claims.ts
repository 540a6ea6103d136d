/**
 * Claims between replicas: whoever creates `refs/opsconductor/claims/<kind>/<id>`
 * first runs the work; the Git server arbitrates, because a ref update that
 * expects the ref to be absent is atomic on the server. Each replica writes a
 * commit of its own (replica name, time), so two claims are never the same
 * object and the loser is always refused.
 */
import { errorText } from "../core/error-text.js";
import os from "node:os";
import { environmentError } from "../core/errors.js";
import { DEFAULT_AUTHOR } from "./author.js";
import { GitRepository } from "./git-repository.js";
import { authFromEnv } from "./remote-auth.js";
import { RefMovedError } from "./ref-lock.js";

export const CLAIMS_PREFIX = "refs/opsconductor/claims";

export interface Claims {
  /** True when this replica won the work; false when another replica holds it. */
  claim(kind: string, id: string): Promise<boolean>;
}

export function claimRef(kind: string, id: string): string {
  const clean = (s: string) =>
    s
      .replace(/[^A-Za-z0-9._-]+/g, "-")
      .replace(/^[.-]+/, "")
      .slice(0, 120) || "_";
  return `${CLAIMS_PREFIX}/${clean(kind)}/${clean(id)}`;
}

export function replicaName(env: NodeJS.ProcessEnv = process.env): string {
  return env.OPSC_REPLICA || `${os.hostname()}:${process.pid}`;
}

/** Claims on an HTTP remote: an isomorphic-git push that creates the ref. */
export class RemoteClaims implements Claims {
  constructor(
    private readonly gitdir: string,
    private readonly url: string,
    private readonly replica: string = replicaName(),
  ) {}

  async claim(kind: string, id: string): Promise<boolean> {
    const ref = claimRef(kind, id);
    const repo = new GitRepository(this.gitdir);
    const oid = await claimCommit(repo, this.replica, ref);
    const onAuth = authFromEnv();
    await repo.writeRef(ref, oid);
    try {
      const result = await repo.push({ url: this.url, ref, remoteRef: ref, ...(onAuth ? { onAuth } : {}) });
      if (result.ok && result.refs[ref]?.ok !== false) return true;
    } catch {
      // Refused (the ref exists and our commit is unrelated) or a network error: the server decides below.
    } finally {
      await repo.deleteRef(ref).catch(() => undefined);
    }
    // Ask the arbiter who holds it: the answer is the same for every replica.
    let holder: string | undefined;
    try {
      const refs = await GitRepository.listServerRefs(this.url, {
        prefix: ref,
        ...(onAuth ? { onAuth } : {}),
      });
      holder = refs.find((r) => r.ref === ref)?.oid;
    } catch (e) {
      throw environmentError("claims.unreachable", `cannot claim ${ref}: ${errorText(e)}`, {
        cause: e,
      });
    }
    if (holder === undefined) {
      throw environmentError("claims.failed", `the remote refused ${ref} and nobody holds it`, {
        hint: "the token needs push access to refs/opsconductor/claims/*",
      });
    }
    return holder === oid;
  }
}

/** Claims in a local repository (`--repo DIR`): git's own lock file arbitrates. */
export class LocalClaims implements Claims {
  constructor(
    private readonly gitdir: string,
    private readonly replica: string = replicaName(),
  ) {}

  async claim(kind: string, id: string): Promise<boolean> {
    const ref = claimRef(kind, id);
    const repo = new GitRepository(this.gitdir);
    const oid = await claimCommit(repo, this.replica, ref);
    try {
      await repo.compareAndSwapRef(ref, null, oid);
      return true;
    } catch (e) {
      if (e instanceof RefMovedError) return false;
      throw e;
    }
  }
}

async function claimCommit(repo: GitRepository, replica: string, ref: string): Promise<string> {
  const tree = await repo.writeTree([]);
  const now = Date.now();
  const who = {
    ...DEFAULT_AUTHOR,
    timestamp: Math.floor(now / 1000),
    timezoneOffset: 0,
  };
  return repo.writeCommit({
    tree,
    parent: [],
    author: who,
    committer: who,
    message: `claim ${ref}\n\nReplica: ${replica}\nAt: ${new Date(now).toISOString()}\nNonce: ${Math.random().toString(36).slice(2)}\n`,
  });
}
