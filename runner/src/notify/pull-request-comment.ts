/**
 * One pull-request comment, updated in place: the review is posted once and
 * every later push to the pull request edits the same comment, found by a
 * hidden marker, instead of piling up comments (as Atlantis does). Talks to
 * the GitHub REST API with fetch; the base URL is GITHUB_API_URL, as GitHub
 * sets it (GitHub Enterprise, and tests on loopback).
 */
import { environmentError } from "../core/errors.js";

export interface PullRequestCommentRequest {
  /** `https://api.github.com` (GITHUB_API_URL). */
  apiUrl: string;
  token: string;
  /** `owner/name`. */
  repository: string;
  pullRequest: number;
  /** An HTML comment that identifies this comment among all others. */
  marker: string;
  body: string;
  fetch?: typeof fetch;
}

export interface PullRequestCommentResult {
  action: "created" | "updated";
  id: number;
  url?: string;
}

/** Pages of 100 comments looked through for the marker; a longer thread gets a new comment. */
const MAX_PAGES = 20;

export async function upsertPullRequestComment(
  request: PullRequestCommentRequest,
): Promise<PullRequestCommentResult> {
  const call = request.fetch ?? fetch;
  const base = request.apiUrl.replace(/\/+$/, "");
  const headers = {
    accept: "application/vnd.github+json",
    authorization: `Bearer ${request.token}`,
    "content-type": "application/json",
    "user-agent": "opsconductor",
    "x-github-api-version": "2022-11-28",
  };
  const body = request.body.includes(request.marker) ? request.body : `${request.marker}\n${request.body}`;
  const send = async (method: string, path: string, payload?: unknown): Promise<unknown> => {
    const res = await call(`${base}${path}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
    });
    if (!res.ok) {
      const text = (await res.text()).slice(0, 300);
      throw environmentError(
        "github.api-failed",
        `GitHub API ${method} ${path} answered ${res.status}: ${text}`,
        {
          hint:
            res.status === 403 || res.status === 404
              ? "give the workflow `permissions: pull-requests: write` and pass github-token (fork pull requests get a read-only token)"
              : "check GITHUB_API_URL and the token",
        },
      );
    }
    return res.json();
  };

  const issue = `/repos/${request.repository}/issues/${request.pullRequest}`;
  for (let page = 1; page <= MAX_PAGES; page++) {
    const comments = (await send("GET", `${issue}/comments?per_page=100&page=${page}`)) as Array<{
      id: number;
      body?: string;
    }>;
    const mine = comments.find((c) => typeof c.body === "string" && c.body.includes(request.marker));
    if (mine) {
      const updated = (await send("PATCH", `/repos/${request.repository}/issues/comments/${mine.id}`, {
        body,
      })) as {
        id: number;
        html_url?: string;
      };
      return { action: "updated", id: updated.id, ...(updated.html_url ? { url: updated.html_url } : {}) };
    }
    if (comments.length < 100) break;
  }
  const created = (await send("POST", `${issue}/comments`, { body })) as { id: number; html_url?: string };
  return { action: "created", id: created.id, ...(created.html_url ? { url: created.html_url } : {}) };
}
