/**
 * A schedule tick that did not fire on time, written to the audit trail. It is
 * recorded through the same path as a run (commitRecord: records lock, ref
 * compare-and-swap, push with rebuild on a lost race, `opsc audit verify`), as
 * a record with no targets whose trigger says `missed: "true"`, so no second
 * writer of the audit chain exists. The result is `cancelled` because the run
 * summary's result list has no "missed"; the trigger detail carries the truth.
 */
import type { Settings } from "../core/repo-model.js";
import type { NotificationOutcome, RunSummary } from "../core/run-summary.js";
import { newRunId } from "../core/run-id.js";
import { commitRecord, type CommitRecordResult } from "./commit-record.js";
import { countOutcomes } from "../core/run-events.js";

export interface MissedTickFacts {
  job: string;
  cron: string;
  timezone: string;
  /** The tick's time, ISO 8601. */
  at: string;
  catchUp: string;
  /** The automation commit the schedule was read at. */
  sourceCommit?: string;
}

/** Pure: the record of a missed tick. */
export function missedTickSummary(tick: MissedTickFacts, now: Date): RunSummary {
  const at = new Date(tick.at);
  return {
    id: newRunId(tick.job, at),
    job: tick.job,
    result: "cancelled",
    startedAt: tick.at,
    finishedAt: now.toISOString(),
    trigger: {
      kind: "schedule",
      actor: "schedule",
      detail: {
        missed: "true",
        cron: tick.cron,
        timezone: tick.timezone,
        tick: tick.at,
        catchUp: tick.catchUp,
        reason: `tick ${tick.at} was not fired on time (runner down or busy); catch-up policy: ${tick.catchUp}`,
      },
    },
    actor: "schedule",
    ...(tick.sourceCommit ? { sourceCommit: tick.sourceCommit } : {}),
    inputs: {},
    checkMode: false,
    targets: [],
    counts: countOutcomes([]),
  };
}

export async function recordMissedTick(
  repoDir: string,
  settings: Pick<Settings, "records">,
  tick: MissedTickFacts,
  options: {
    push?: boolean;
    now?: () => Date;
    env?: NodeJS.ProcessEnv;
    /** Tells the job's `notify:` of the missed tick; what was sent is kept in the record. */
    notify?: (summary: RunSummary) => Promise<NotificationOutcome[]>;
  } = {},
): Promise<CommitRecordResult> {
  const now = options.now ?? (() => new Date());
  const summary = missedTickSummary(tick, now());
  const sent = options.notify ? await options.notify(summary) : [];
  if (sent.length > 0) summary.notifications = sent;
  return commitRecord({
    repoDir,
    settings,
    summary,
    logs: new Map(),
    ...(options.push !== undefined ? { push: options.push } : {}),
    now,
    ...(options.env ? { env: options.env } : {}),
  });
}
