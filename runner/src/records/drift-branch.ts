/**
 * Writes a drift report as one commit on `opsconductor/drift/<job>` and pushes
 * it to origin, the records remote (same URL rules and token as the records).
 * Each report is a new commit on top of the branch's previous tip, the
 * remote's when it has one, so the branch is the job's history of drift. The
 * branch has no common history with the automation repository: it holds only
 * drift.md and drift.json. Without a remote (or with pushing off) the commit
 * stays local. Never force-pushed: a lost race is fetched and built upon.
 */
import { errorText } from "../core/error-text.js";
import { userError } from "../core/errors.js";
import { displayUrl } from "../git/display-url.js";
import { GitRepository } from "../git/git-repository.js";
import { RefMovedError } from "../git/ref-lock.js";
import { authFromEnv, isHttpUrl } from "../git/remote-auth.js";
import { DEFAULT_AUTHOR, type Signature } from "../git/author.js";

export const DRIFT_BRANCH_PREFIX = "opsconductor/drift/";

export function driftBranch(job: string): string {
  return `${DRIFT_BRANCH_PREFIX}${job}`;
}

export type DriftPushStatus =
  "pushed" | "skipped" | "no-remote" | "unsupported-remote" | "refused" | "failed";

export interface DriftBranchOptions {
  gitdir: string;
  job: string;
  files: Array<{ path: string; content: string }>;
  message: string;
  /** Push to origin; false keeps the commit local (`--no-push`, or `records.push: false`). */
  push: boolean;
  env?: NodeJS.ProcessEnv;
  now?: Date;
  author?: Signature;
  maxAttempts?: number;
}

export interface DriftBranchResult {
  branch: string;
  commit: string;
  /** The tip the commit was built on; null for the branch's first commit. */
  parent: string | null;
  push: { status: DriftPushStatus; reason?: string };
}

/** The branch's tip: origin's when it has the branch (fetched), else the local one; null when neither exists. */
export async function driftBranchTip(
  opts: Pick<DriftBranchOptions, "gitdir" | "job" | "env">,
): Promise<string | null> {
  const repo = new GitRepository(opts.gitdir);
  const remote = await remoteTip(repo, driftBranch(opts.job), opts.env);
  return remote ?? (await repo.readRef(`refs/heads/${driftBranch(opts.job)}`));
}

/** The status (`drift`, `clean`) the drift report at `commit` states in its message, if it states one. */
export async function driftReportStatus(gitdir: string, commit: string): Promise<string | undefined> {
  const { message } = await new GitRepository(gitdir).readCommit(commit);
  return /^Opsc-Drift: (\S+)$/m.exec(message)?.[1];
}

async function remoteTip(
  repo: GitRepository,
  branch: string,
  env?: NodeJS.ProcessEnv,
): Promise<string | null> {
  const url = await repo.remoteUrl("origin");
  if (!url || !isHttpUrl(url)) return null;
  const onAuth = authFromEnv(env);
  const refs = await GitRepository.listServerRefs(url, {
    prefix: `refs/heads/${branch}`,
    ...(onAuth ? { onAuth } : {}),
  });
  const tip = refs.find((r) => r.ref === `refs/heads/${branch}`)?.oid;
  if (!tip) return null;
  if ((await repo.objectType(tip)) === null)
    await repo.fetch({ remote: "origin", ref: branch, ...(onAuth ? { onAuth } : {}) });
  await repo.writeRef(`refs/remotes/origin/${branch}`, tip);
  return tip;
}

export async function commitDriftReport(opts: DriftBranchOptions): Promise<DriftBranchResult> {
  const repo = new GitRepository(opts.gitdir);
  const branch = driftBranch(opts.job);
  const ref = `refs/heads/${branch}`;
  const url = await repo.remoteUrl("origin");
  const pushing = opts.push && url !== null && isHttpUrl(url);
  const maxAttempts = opts.maxAttempts ?? 5;
  const author = opts.author ?? DEFAULT_AUTHOR;
  const when = opts.now ?? new Date();
  const stamp = { ...author, timestamp: Math.floor(when.getTime() / 1000), timezoneOffset: 0 };
  const message = opts.message.endsWith("\n") ? opts.message : `${opts.message}\n`;
  let last: DriftBranchResult | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const local = await repo.readRef(ref);
    let parent = local;
    let unreadable: DriftBranchResult["push"] | undefined;
    if (pushing) {
      let remote: string | null = null;
      try {
        remote = await remoteTip(repo, branch, opts.env);
      } catch (e) {
        unreadable = httpRefusal(e) ?? {
          status: "failed",
          reason: `cannot read the drift branch on ${displayUrl(url)}: ${errorText(e)}`,
        };
      }
      // The remote's tip, unless ours already builds on it (an earlier report not pushed yet).
      if (remote && !(local && (local === remote || (await repo.isDescendent(local, remote)))))
        parent = remote;
    }
    const tree = await repo.writeTreeWith(null, opts.files);
    const commit = await repo.writeCommit({
      message,
      tree,
      parent: parent ? [parent] : [],
      author: stamp,
      committer: stamp,
    });
    try {
      await repo.compareAndSwapRef(ref, local, commit);
    } catch (e) {
      if (e instanceof RefMovedError) continue; // another drift run of this job wrote first: build on it
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTDIR" || code === "EEXIST" || code === "EISDIR") throw branchClash(branch);
      throw e;
    }
    if (!opts.push) return { branch, commit, parent, push: { status: "skipped" } };
    if (!url) return { branch, commit, parent, push: { status: "no-remote" } };
    if (!isHttpUrl(url))
      return {
        branch,
        commit,
        parent,
        push: {
          status: "unsupported-remote",
          reason: `origin is ${displayUrl(url)}; OpsConductor pushes over HTTP(S) only`,
        },
      };
    if (unreadable) return { branch, commit, parent, push: unreadable };
    const pushed = await pushOnce(repo, branch, opts.env);
    if (pushed.status !== "race")
      return { branch, commit, parent, push: { ...pushed, status: pushed.status } };
    last = { branch, commit, parent, push: { status: "failed" } };
  }
  return {
    ...(last ?? { branch, commit: "", parent: null }),
    push: { status: "failed", reason: `the remote kept moving: gave up after ${maxAttempts} attempts` },
  };
}

async function pushOnce(
  repo: GitRepository,
  branch: string,
  env?: NodeJS.ProcessEnv,
): Promise<{ status: DriftPushStatus | "race"; reason?: string }> {
  const onAuth = authFromEnv(env);
  try {
    const result = await repo.push({
      remote: "origin",
      ref: branch,
      remoteRef: branch,
      ...(onAuth ? { onAuth } : {}),
    });
    const status = result.refs[`refs/heads/${branch}`];
    if (result.ok && (status === undefined || status.ok)) return { status: "pushed" };
    const why = status?.error ?? result.error ?? "rejected";
    return /non-fast-forward|fetch first|rejected/i.test(why)
      ? { status: "race" }
      : { status: "refused", reason: why };
  } catch (e) {
    if ((e as { code?: string }).code === "PushRejectedError") return { status: "race" };
    return httpRefusal(e) ?? { status: "failed", reason: errorText(e) };
  }
}

/** Jobs `db` and `db/backup`: Git cannot hold both `…/drift/db` and `…/drift/db/backup`. */
function branchClash(branch: string): Error {
  return userError(
    "drift.branch-clash",
    `the drift branch ${branch} cannot be created: another branch holds a part of its name (a job named like its folder)`,
    {
      hint: `list them with \`git branch --list '${DRIFT_BRANCH_PREFIX}*'\`; delete the one no longer needed, or rename one of the jobs`,
    },
  );
}

/** An HTTP error status from isomorphic-git as a refusal, with what to do about 401/403. */
function httpRefusal(e: unknown): { status: "refused"; reason: string } | undefined {
  const err = e as { code?: string; data?: { statusCode?: number; statusMessage?: string } };
  if (err.code !== "HttpError") return undefined;
  const auth = err.data?.statusCode === 401 || err.data?.statusCode === 403;
  return {
    status: "refused",
    reason:
      `HTTP ${err.data?.statusCode ?? "?"} ${err.data?.statusMessage ?? ""}`.trim() +
      (auth ? ": set OPSC_GIT_TOKEN (or GITHUB_TOKEN) to a token that may push" : ""),
  };
}
