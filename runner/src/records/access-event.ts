/**
 * An access event in the audit trail: a token created or revoked, a session
 * ended by an admin, a run request refused. Like a missed tick it is written
 * through the same path as a run (commitRecord), as a record with no targets,
 * so the audit chain keeps one writer and `opsc audit verify` covers it. The
 * trigger detail's `event` says what happened; refused runs carry their job,
 * other events the job `opsc:access` (no job file can have that id).
 */
import type { Actor } from "../core/plan-model.js";
import type { Settings } from "../core/repo-model.js";
import type { RunSummary } from "../core/run-summary.js";
import { countOutcomes } from "../core/run-events.js";
import { newRunId } from "../core/run-id.js";
import { commitRecord, type CommitRecordResult } from "./commit-record.js";

export const ACCESS_JOB = "opsc:access";

export interface AccessEventFacts {
  event: string;
  by: Actor;
  /** For run.refused: the job asked for. */
  job?: string;
  sourceCommit?: string;
  detail: Record<string, string>;
}

/** Pure: the record of an access event. */
export function accessEventSummary(facts: AccessEventFacts, now: Date): RunSummary {
  const job = facts.job ?? ACCESS_JOB;
  return {
    id: newRunId(job, now),
    job,
    result: "cancelled",
    startedAt: now.toISOString(),
    finishedAt: now.toISOString(),
    trigger: {
      kind: "api",
      actor: facts.by.name,
      by: facts.by,
      detail: { event: facts.event, ...facts.detail },
    },
    actor: facts.by.name,
    ...(facts.sourceCommit ? { sourceCommit: facts.sourceCommit } : {}),
    inputs: {},
    checkMode: false,
    targets: [],
    counts: countOutcomes([]),
  };
}

export function recordAccessEvent(
  repoDir: string,
  settings: Pick<Settings, "records">,
  facts: AccessEventFacts,
  options: { push?: boolean; now?: () => Date } = {},
): Promise<CommitRecordResult> {
  const now = options.now ?? (() => new Date());
  return commitRecord({
    repoDir,
    settings,
    summary: accessEventSummary(facts, now()),
    logs: new Map(),
    ...(options.push !== undefined ? { push: options.push } : {}),
    now,
  });
}
