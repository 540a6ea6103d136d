/**
 * A GitHub commit status for the commit a run ran (`POST
 * /repos/{owner}/{repo}/statuses/{sha}`), when a token is configured:
 * OPSC_GITHUB_TOKEN or GITHUB_TOKEN, API base GITHUB_API_URL (GitHub Enterprise).
 */
import type { NotificationPayload } from "./notification.js";
import { DeliveryError, withRetries, type RetryPolicy, type RetryResult } from "./retry.js";

export interface GitHubTarget {
  token: string;
  apiUrl: string;
  /** `owner/name`. */
  repository: string;
  /** Link shown beside the status (the Actions run, or the server). */
  targetUrl?: string;
}

/** The GitHub settings from the environment, or null when no token (or no repository) is known. */
export function githubFromEnv(env: NodeJS.ProcessEnv, repository?: string): GitHubTarget | null {
  const token = env.OPSC_GITHUB_TOKEN || env.GITHUB_TOKEN;
  const repo = repository ?? env.GITHUB_REPOSITORY;
  if (!token || !repo || !/^[\w.-]+\/[\w.-]+$/.test(repo)) return null;
  const server = env.GITHUB_SERVER_URL?.replace(/\/$/, "");
  const targetUrl =
    server && env.GITHUB_RUN_ID ? `${server}/${repo}/actions/runs/${env.GITHUB_RUN_ID}` : env.OPSC_RUN_URL;
  return {
    token,
    apiUrl: (env.GITHUB_API_URL || "https://api.github.com").replace(/\/$/, ""),
    repository: repo,
    ...(targetUrl ? { targetUrl } : {}),
  };
}

/** `owner/name` from a GitHub remote URL (https or scp-like ssh), else undefined. */
export function repositoryFromRemote(url: string): string | undefined {
  const m = /github[^/:]*[/:]([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

export type CommitState = "pending" | "success" | "failure" | "error";

export interface CommitStatus {
  state: CommitState;
  context: string;
  description: string;
  target_url?: string;
}

/** Pure: the status a payload sets; null for events that concern no commit (a missed tick, drift either way). */
export function commitStatusFor(p: NotificationPayload, targetUrl?: string): CommitStatus | null {
  // A drifted host says nothing about a commit: the report is on the drift branch instead.
  if (p.event === "missed" || p.event === "drift" || p.event === "drift-resolved" || !p.run.sourceCommit)
    return null;
  const state: CommitState =
    p.event === "started"
      ? "pending"
      : p.event === "success" || p.event === "recovered"
        ? "success"
        : p.run.result === "interrupted"
          ? "error"
          : "failure";
  // GitHub refuses descriptions over 140 characters.
  const description = p.text.length > 140 ? `${p.text.slice(0, 139)}…` : p.text;
  return {
    state,
    context: `opsconductor/${p.job}`,
    description,
    ...(targetUrl ? { target_url: targetUrl } : {}),
  };
}

export async function sendCommitStatus(
  gh: GitHubTarget,
  sha: string,
  status: CommitStatus,
  opts: { timeoutMs: number; retry: RetryPolicy; fetch?: typeof fetch },
): Promise<RetryResult<number>> {
  const url = `${gh.apiUrl}/repos/${gh.repository}/statuses/${encodeURIComponent(sha)}`;
  const doFetch = opts.fetch ?? fetch;
  return withRetries(opts.retry, async () => {
    let res: Response;
    try {
      res = await doFetch(url, {
        method: "POST",
        headers: {
          accept: "application/vnd.github+json",
          authorization: `Bearer ${gh.token}`,
          "content-type": "application/json",
          "user-agent": "OpsConductor",
          "x-github-api-version": "2022-11-28",
        },
        body: JSON.stringify(status),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      if (err.name === "TimeoutError") throw new DeliveryError(`no answer within ${opts.timeoutMs} ms`, true);
      throw new DeliveryError(`cannot connect: ${err.cause?.code ?? err.message}`, true);
    }
    const text = await res.text().catch(() => "");
    if (res.ok) return res.status;
    const message = githubMessage(text);
    throw new DeliveryError(
      `GitHub answered HTTP ${res.status}${message ? `: ${message}` : ""}`,
      res.status >= 500 || res.status === 429,
    );
  });
}

/** GitHub's error bodies are `{"message": "..."}`; anything else is not worth repeating. */
function githubMessage(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    return typeof m === "string" ? m : "";
  } catch {
    return "";
  }
}
