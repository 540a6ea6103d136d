/**
 * The event that started the workflow, as GitHub's runner provides it: the
 * payload file at GITHUB_EVENT_PATH and the GITHUB_* variables.
 */
import fs from "node:fs";
import { errorText } from "../../runner/src/core/error-text.js";
import { environmentError } from "../../runner/src/core/errors.js";
import type { Trigger } from "../../runner/src/core/plan-model.js";

export interface GithubEvent {
  name: string;
  payload: Record<string, unknown>;
  /** `owner/name`. */
  repository?: string;
  sha?: string;
  ref?: string;
  actor?: string;
  apiUrl: string;
  /** `https://github.com`, or a GitHub Enterprise server's address. */
  serverUrl: string;
}

export function readGithubEvent(env: NodeJS.ProcessEnv = process.env): GithubEvent {
  let payload: Record<string, unknown> = {};
  const file = env.GITHUB_EVENT_PATH;
  if (file) {
    try {
      payload = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw environmentError("action.bad-event", `cannot read the event payload ${file}: ${errorText(e)}`, {
        hint: "GITHUB_EVENT_PATH is set by GitHub's runner; outside it, point it at a webhook payload file",
      });
    }
  }
  return {
    name: env.GITHUB_EVENT_NAME ?? "",
    payload,
    ...(env.GITHUB_REPOSITORY ? { repository: env.GITHUB_REPOSITORY } : {}),
    ...(env.GITHUB_SHA ? { sha: env.GITHUB_SHA } : {}),
    ...(env.GITHUB_REF ? { ref: env.GITHUB_REF } : {}),
    ...(env.GITHUB_ACTOR ? { actor: env.GITHUB_ACTOR } : {}),
    apiUrl: env.GITHUB_API_URL || "https://api.github.com",
    serverUrl: env.GITHUB_SERVER_URL || "https://github.com",
  };
}

/** The pull request of a pull_request or pull_request_target event. */
export interface PullRequestFacts {
  number: number;
  baseSha: string;
  headSha: string;
}

export function pullRequestOf(event: GithubEvent): PullRequestFacts | undefined {
  const pr = event.payload.pull_request as
    { number?: number; base?: { sha?: string }; head?: { sha?: string } } | undefined;
  const number = pr?.number ?? (event.payload.number as number | undefined);
  if (!pr || typeof number !== "number" || !pr.base?.sha || !pr.head?.sha) return undefined;
  return { number, baseSha: pr.base.sha, headSha: pr.head.sha };
}

/** How a run started from a workflow is recorded: its event, and who caused it. */
export function triggerOf(event: GithubEvent): Trigger {
  const actor = `github:${event.actor ?? "unknown"}`;
  const detail: Record<string, string> = { event: event.name };
  if (event.ref) detail.ref = event.ref;
  if (typeof event.payload.schedule === "string") detail.cron = event.payload.schedule;
  const kind: Trigger["kind"] =
    event.name === "schedule"
      ? "schedule"
      : event.name === "push"
        ? "push"
        : event.name === "repository_dispatch"
          ? "webhook"
          : event.name === "workflow_dispatch" || event.name === ""
            ? "manual"
            : "api";
  return { kind, actor, detail };
}
