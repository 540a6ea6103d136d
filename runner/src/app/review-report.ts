/**
 * What a door shows of a review (app/review-commits.ts): the text in a chosen
 * format, and the one pull-request comment the action keeps up to date.
 */
import {
  upsertPullRequestComment,
  type PullRequestCommentRequest,
  type PullRequestCommentResult,
} from "../notify/pull-request-comment.js";
import { DIFF_FORMATS, renderReview, type DiffFormat, type Review } from "../review/render-diff.js";

export { DIFF_FORMATS, type DiffFormat };

export function reviewReport(review: Review, format: DiffFormat): string {
  return renderReview(review, format);
}

/** Posts the review on the pull request, or updates the comment posted before (found by its marker). */
export function commentOnPullRequest(request: PullRequestCommentRequest): Promise<PullRequestCommentResult> {
  return upsertPullRequestComment(request);
}
