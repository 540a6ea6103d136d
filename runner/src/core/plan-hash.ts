/**
 * The plan hash: SHA-256 over the canonical JSON of the work a plan does, the
 * message approvers sign (docs/approvals.md). It covers everything in the plan
 * except who or what started it and from which branch, so the run a schedule,
 * a webhook or another person starts has the same hash as the plan a person
 * approved, while a different commit, input, target, setting or script gives
 * a different one. A field added to Plan later is covered without a change
 * here: leaving something out must be a decision, never an oversight.
 * The plan holds secret references only, never their values.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical-json.js";
import type { Plan } from "./plan-model.js";

/** Bumped when what the hash covers changes, so old approvals never match a new meaning. */
export const PLAN_HASH_VERSION = 1;

/** The canonical text the plan hash is the SHA-256 of (also stored next to each approval). */
export function planHashText(plan: Plan): string {
  const {
    // Who or what started the run: the same work, approved once, may be started by any door.
    trigger: _trigger,
    // The branch the commit was read from: the commit itself is covered.
    ref: _ref,
    // A dirty tree has no commit to bind to; approvals refuse it before hashing matters.
    dirtyTree: _dirtyTree,
    planHash: _planHash,
    shard,
    ...work
  } = plan;
  return canonicalJson({
    planHashVersion: PLAN_HASH_VERSION,
    ...work,
    // The shard's group names a workflow run, not the work.
    ...(shard ? { shard: { index: shard.index, count: shard.count } } : {}),
  });
}

/** Lower-case hex SHA-256 of planHashText. */
export function computePlanHash(plan: Plan): string {
  return createHash("sha256").update(planHashText(plan), "utf8").digest("hex");
}
