/**
 * `command: diff`: on a pull request, what merging it does to every job, in
 * the job summary and in one pull-request comment kept up to date. Reads
 * commits only: nothing is decrypted, no target is contacted, so it is safe on
 * pull requests from forks.
 */
import * as core from "@actions/core";
import { errorText } from "../../runner/src/core/error-text.js";
import { usageError } from "../../runner/src/core/errors.js";
import { commentOnPullRequest, reviewReport } from "../../runner/src/app/review-report.js";
import { mergeBaseOf, reviewCommits } from "../../runner/src/app/review-commits.js";
import { findRepoRoot, locateGit } from "../../runner/src/app/workspace.js";
import type { ActionInputs } from "./action-inputs.js";
import { pullRequestOf, type GithubEvent } from "./github-event.js";

/** Identifies this action's comment among a pull request's comments; one per automation repository. */
export function commentMarker(relativeDir: string): string {
  return `<!-- opsconductor-diff path=${relativeDir || "."} -->`;
}

/** GitHub refuses comments over 65,536 characters; the job summary (1 MiB) keeps the whole review. */
const COMMENT_LIMIT = 60_000;

export function commentBody(markdown: string): string {
  if (markdown.length <= COMMENT_LIMIT) return markdown;
  const cut = markdown.lastIndexOf("\n### ", COMMENT_LIMIT);
  return `${markdown.slice(0, cut > 0 ? cut : COMMENT_LIMIT)}\n\n_The review is too long for a comment; the rest is in the workflow run's job summary._\n`;
}

export async function diffStep(
  inputs: ActionInputs,
  event: GithubEvent,
  now: Date = new Date(),
): Promise<void> {
  const { gitdir, root } = locateGit(findRepoRoot(inputs.repoDir));
  const pr = pullRequestOf(event);
  let base: string;
  let head: string;
  if (pr) {
    head = pr.headSha;
    base = await mergeBaseOf(gitdir, pr.baseSha, pr.headSha);
  } else if (
    event.name === "push" &&
    typeof event.payload.before === "string" &&
    typeof event.payload.after === "string"
  ) {
    base = event.payload.before;
    head = event.payload.after;
  } else {
    throw usageError(
      "action.diff-event",
      `command diff needs a pull_request or push event, not "${event.name}"`,
      {
        hint: "run it `on: pull_request`; elsewhere use `opsc diff BASE HEAD`",
      },
    );
  }
  const review = await reviewCommits({ gitdir, ...(root ? { root } : {}), base, head, at: now });
  const markdown = reviewReport(review, "markdown");
  await core.summary.addRaw(markdown).write();
  const affected = review.diff.jobs.filter((j) => j.change !== "unchanged").map((j) => j.id);
  core.info(affected.length ? `jobs affected: ${affected.join(", ")}` : "no job is affected");
  core.setOutput("result", "success");
  if (!pr) return;
  if (!inputs.githubToken || !event.repository) {
    core.info("no github-token: the review is in the job summary only");
    return;
  }
  try {
    const marker = commentMarker(inputs.relativeDir);
    const done = await commentOnPullRequest({
      apiUrl: event.apiUrl,
      token: inputs.githubToken,
      repository: event.repository,
      pullRequest: pr.number,
      marker,
      body: `${marker}\n${commentBody(markdown)}`,
    });
    core.info(`pull-request comment ${done.action}${done.url ? `: ${done.url}` : ""}`);
  } catch (e) {
    // Fork pull requests get a read-only token: the review still stands in the job summary.
    core.warning(`could not comment on the pull request: ${errorText(e)}`);
  }
}
