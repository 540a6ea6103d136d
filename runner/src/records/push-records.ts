/**
 * Pushes the records branch to `origin` and wins races without force: on a
 * non-fast-forward it fetches, rebuilds our unpushed record commits on the new
 * tip (re-chaining their audit lines), and pushes again. A fetched tip that
 * does not extend the last one this clone knew (a force-pushed rewrite) is
 * refused, never built on (known-tip.ts). A record that another
 * process already pushed is noticed and not written twice. The usual push
 * sends only the new objects (git/push-new-objects.ts); isomorphic-git's push
 * handles the rest (a new branch, a remote far behind).
 */
import { errorText } from "../core/error-text.js";
import { displayUrl } from "../git/display-url.js";
import { environmentError, isOpscError } from "../core/errors.js";
import { GitRepository, type AuthCallback } from "../git/git-repository.js";
import { RefMovedError } from "../git/ref-lock.js";
import { isRaceMessage } from "../git/push-new-objects.js";
import { authFromEnv, isHttpUrl } from "../git/remote-auth.js";
import { readKnownTip, REWRITTEN, rewriteOf, rewrittenError, writeKnownTip } from "./known-tip.js";
import { hasRun, replayRecordCommit, trailer } from "./record-commit.js";
import { isRunId, runDir } from "./record-paths.js";

export type PushStatus =
  | "skipped"
  | "pushed"
  | "already-landed"
  | "up-to-date"
  | "no-remote"
  | "unsupported-remote"
  | "refused"
  /** origin's branch does not extend the last tip this clone knew: nothing was built on it. */
  | "rewritten"
  | "failed";

export interface PushOutcome {
  status: PushStatus;
  /** The server's words (hook output, HTTP status) or the network error, for refused / failed. */
  reason?: string;
  attempts: number;
  /** Tip of the records branch after the push (our commit may have been rebuilt). */
  tip?: string;
  /** Run ids whose records were rebuilt on a newer remote tip. */
  rebuilt: string[];
  /** The error code behind a "rewritten" outcome. */
  code?: string;
  /** What to do about it. */
  hint?: string;
}

export interface PushOptions {
  gitdir: string;
  /** The Git adapter on `gitdir`, when the caller has one (its object cache is reused). */
  git?: GitRepository;
  branch: string;
  remote?: string;
  now?: () => Date;
  env?: NodeJS.ProcessEnv;
  maxAttempts?: number;
}

export async function pushRecords(opts: PushOptions): Promise<PushOutcome> {
  const remote = opts.remote ?? "origin";
  const { branch } = opts;
  const repo = opts.git ?? new GitRepository(opts.gitdir);
  const now = opts.now ?? (() => new Date());
  const ref = `refs/heads/${branch}`;
  const url = await repo.remoteUrl(remote);
  if (!url) return { status: "no-remote", attempts: 0, rebuilt: [] };
  if (!isHttpUrl(url)) {
    return {
      status: "unsupported-remote",
      reason: `${remote} is ${displayUrl(url)}; records are pushed over HTTP(S) only (isomorphic-git)`,
      attempts: 0,
      rebuilt: [],
    };
  }
  const onAuth = authFromEnv(opts.env);
  const maxAttempts = opts.maxAttempts ?? 30;
  const rebuilt = new Set<string>();
  let landed = false;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const local = await repo.readRef(ref);
    if (!local) return { status: "up-to-date", attempts: attempt - 1, rebuilt: [] };
    // A remote tip behind the known one is a rewind: pushing would hide it, so it is refused like any rewrite.
    const checkRemoteTip = async (remoteTip: string): Promise<void> => {
      const known = await readKnownTip(repo, branch);
      const why = known ? await rewriteOf(repo, known, remoteTip) : null;
      if (known && why) throw rewrittenError(branch, known, remoteTip, why);
    };
    const answer = await attemptPush(repo, url, remote, branch, local, onAuth, checkRemoteTip);
    if (answer.kind === "pushed") {
      await repo.writeRef(`refs/remotes/${remote}/${branch}`, local);
      await writeKnownTip(repo, branch, local);
      return {
        status: landed && rebuilt.size === 0 ? "already-landed" : "pushed",
        attempts: attempt,
        tip: local,
        rebuilt: [...rebuilt],
      };
    }
    if (answer.kind === "refused") return refused(answer.reason, answer.messages, attempt, rebuilt);
    if (answer.kind === "failed") {
      return { status: "failed", reason: answer.reason, attempts: attempt, rebuilt: [...rebuilt] };
    }
    // Lost a race: take the remote tip and put our records on top of it, if it extends what we knew.
    const tracked = await repo.readRef(`refs/remotes/${remote}/${branch}`);
    const fetched = await repo.fetch({ remote, ref: branch, ...(onAuth ? { onAuth } : {}) });
    const remoteTip = fetched ?? (await repo.readRef(`refs/remotes/${remote}/${branch}`));
    if (!remoteTip) continue;
    // Without a known tip yet (a clone from before it was kept), the remote-tracking ref as it was before this fetch.
    const known = (await readKnownTip(repo, branch)) ?? tracked;
    const why = known ? await rewriteOf(repo, known, remoteTip) : null;
    if (known && why) throw rewrittenError(branch, known, remoteTip, why);
    await writeKnownTip(repo, branch, remoteTip);
    const outcome = await rebaseRecords(repo, ref, local, remoteTip, now);
    for (const id of outcome.rebuilt) rebuilt.add(id);
    if (outcome.landed) landed = true;
    if (outcome.tip === remoteTip) {
      return { status: "already-landed", attempts: attempt, tip: remoteTip, rebuilt: [...rebuilt] };
    }
    await new Promise((r) => setTimeout(r, Math.random() * 50 * Math.min(attempt, 8)));
  }
  return {
    status: "failed",
    reason: `the remote kept moving: gave up after ${maxAttempts} attempts`,
    attempts: maxAttempts,
    rebuilt: [...rebuilt],
  };
}

type Attempt =
  | { kind: "pushed" }
  | { kind: "race" }
  | { kind: "refused"; reason: string; messages: string[] }
  | { kind: "failed"; reason: string };

/**
 * One push. The common case (the remote is our parent, a few commits behind)
 * sends only the new objects; anything else goes through isomorphic-git's push.
 */
async function attemptPush(
  repo: GitRepository,
  url: string,
  remote: string,
  branch: string,
  local: string,
  onAuth: AuthCallback | undefined,
  checkRemoteTip: (remoteTip: string) => Promise<void>,
): Promise<Attempt> {
  const ref = `refs/heads/${branch}`;
  try {
    const fast = await repo.pushNewObjects({
      url,
      ref,
      oid: local,
      ...(onAuth ? { onAuth } : {}),
      checkRemoteTip,
    });
    if (fast.kind === "pushed") return { kind: "pushed" };
    if (fast.kind === "race") return { kind: "race" };
    if (fast.kind === "refused") return { kind: "refused", reason: fast.reason, messages: fast.messages };
    if (fast.kind === "http") return httpRefusal(fast.status, fast.statusText);
  } catch (e) {
    if (isOpscError(e) && e.code === REWRITTEN) throw e;
    return { kind: "failed", reason: errorText(e) };
  }
  const messages: string[] = [];
  try {
    const result = await repo.push({
      remote,
      ref: branch,
      remoteRef: branch,
      ...(onAuth ? { onAuth } : {}),
      onMessage: (m) => {
        messages.push(m);
      },
    });
    const status = result.refs[ref];
    if (result.ok && (status === undefined || status.ok)) return { kind: "pushed" };
    const why = status?.error ?? result.error ?? "rejected";
    return isRaceMessage(why) ? { kind: "race" } : { kind: "refused", reason: why, messages };
  } catch (e) {
    const err = e as { code?: string; message?: string; data?: Record<string, unknown> };
    // The remote moved on; isomorphic-git 1.41.7-1.41.9 threw NotFoundError here instead (see the tests).
    if (err.code === "PushRejectedError") return { kind: "race" };
    if (err.code === "GitPushError") {
      const pretty = String(
        (err.data as { prettyDetails?: string } | undefined)?.prettyDetails ?? err.message,
      );
      return isRaceMessage(pretty) ? { kind: "race" } : { kind: "refused", reason: pretty, messages };
    }
    if (err.code === "HttpError") {
      const data = err.data as { statusCode?: number; statusMessage?: string } | undefined;
      return httpRefusal(data?.statusCode, data?.statusMessage);
    }
    return { kind: "failed", reason: errorText(e) };
  }
}

function httpRefusal(status: number | undefined, text: string | undefined): Attempt {
  const auth = status === 401 || status === 403;
  return {
    kind: "refused",
    reason:
      `HTTP ${status ?? "?"} ${text ?? ""}`.trim() +
      (auth ? ": set OPSC_GIT_TOKEN (or GITHUB_TOKEN) to a token that may push" : ""),
    messages: [],
  };
}

function refused(why: string, messages: string[], attempts: number, rebuilt: Set<string>): PushOutcome {
  const said = messages
    .join("")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join("; ");
  return {
    status: "refused",
    reason: said ? `${why.trim()} (server said: ${said})` : why.trim(),
    attempts,
    rebuilt: [...rebuilt],
  };
}

/**
 * Moves our local-only record commits onto `remoteTip`. Returns the new local
 * tip; equal to remoteTip when every record of ours is already there.
 */
async function rebaseRecords(
  repo: GitRepository,
  ref: string,
  local: string,
  remoteTip: string,
  now: () => Date,
): Promise<{ tip: string; rebuilt: string[]; landed: boolean }> {
  const bases = await repo.mergeBase(local, remoteTip).catch(() => [] as string[]);
  const base = bases[0] ?? null;
  const mine: Array<{ oid: string; runId: string }> = [];
  let cursor: string | null = local;
  while (cursor && cursor !== base) {
    const commit = await repo.readCommit(cursor);
    const runId = trailer(commit.message, "Opsc-Run");
    if (!runId || !isRunId(runId)) {
      throw environmentError(
        "records.foreign-commit",
        `the local records branch has commit ${cursor.slice(0, 12)} that OpsConductor did not write and the remote does not have`,
        {
          hint: "push or drop it by hand (git -C <repo> log <records branch>); OpsConductor never force-pushes",
        },
      );
    }
    mine.unshift({ oid: cursor, runId });
    cursor = commit.parent[0] ?? null;
  }
  let tip = remoteTip;
  const rebuilt: string[] = [];
  let landed = false;
  const tipTree = async (oid: string): Promise<string> => (await repo.readCommit(oid)).tree;
  for (const { oid, runId } of mine) {
    const dir = runDir(runId);
    if (await hasRun(repo, await tipTree(tip), dir)) {
      landed = true;
      continue;
    }
    tip = await replayRecordCommit(repo, oid, tip, dir, now());
    rebuilt.push(runId);
  }
  try {
    await repo.compareAndSwapRef(ref, local, tip);
  } catch (e) {
    if (e instanceof RefMovedError) return { tip: local, rebuilt: [], landed: false };
    throw e;
  }
  return { tip, rebuilt, landed };
}
