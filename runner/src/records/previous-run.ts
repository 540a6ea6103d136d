/**
 * The result a job's previous run had, for notifications sent only when the
 * result changes (`on: [fixed]`, `on: [regressed]`). Read from the records
 * branch by the use case and handed to the notifier, which reads no records.
 */
import type { RunResult } from "../core/run-events.js";
import type { GitRepository } from "../git/git-repository.js";
import { listRuns, openRecords } from "./records-branch.js";

/** The result of the job's last run before `currentRunId` (missed ticks skipped), from the records branch. */
export async function previousRunResult(
  repoDir: string,
  branch: string,
  job: string,
  currentRunId?: string,
  /** The Git adapter on the repository, when the caller located it. */
  git?: GitRepository,
): Promise<RunResult | undefined> {
  const src = await openRecords(repoDir, branch, git ? { git } : {});
  if (!src) return undefined;
  for (const run of await listRuns(src, { job, limit: 20 })) {
    if (run.id === currentRunId || run.trigger.detail?.missed === "true") continue;
    return run.result;
  }
  return undefined;
}
