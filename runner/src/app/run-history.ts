/**
 * `opsc runs list|show` as use cases: the run history on the local records
 * branch. A run cut off by a crash is recovered first, so it shows as
 * interrupted; pushing it waits for the next `opsc run`.
 */
import { userError } from "../core/errors.js";
import type { RunSummary } from "../core/run-summary.js";
import { recoverInterrupted } from "../records/journal.js";
import { mergeShards, siblingShards, type MergedShards } from "../records/merge-shards.js";
import { targetLogPath } from "../records/record-paths.js";
import {
  listRuns,
  openRecords,
  readRun,
  readRunFile,
  runIds,
  type RecordsSource,
} from "../records/records-branch.js";
import { readRecordsSettings } from "./records-settings.js";
import { findRepoRoot } from "./workspace.js";

export type { MergedShards };

/** What `opsc runs list` lists: `recorded` is false while the records branch does not exist. */
export async function listRecordedRuns(request: {
  repo?: string;
  job?: string;
  limit: number;
}): Promise<{ recorded: boolean; runs: RunSummary[] }> {
  const src = await openHistory(request.repo);
  if (!src) return { recorded: false, runs: [] };
  const runs = await listRuns(src, {
    ...(request.job !== undefined ? { job: request.job } : {}),
    limit: request.limit,
  });
  return { recorded: true, runs };
}

/** One recorded run as `opsc runs show` prints it. */
export type RecordedRun =
  | { kind: "log"; text: string }
  | { kind: "run"; summary: RunSummary; runJson: string }
  | { kind: "shards"; merged: MergedShards };

/**
 * The run `wanted` names (its id, its start or its suffix): one target's log
 * with `log`, the whole sharded run merged from its shards' records with
 * `mergeShards`, else the run's summary and its run.json as committed.
 */
export async function showRecordedRun(request: {
  repo?: string;
  wanted: string;
  log?: string;
  mergeShards?: boolean;
}): Promise<RecordedRun> {
  const src = await openHistory(request.repo);
  if (!src) throw userError("runs.none", "no runs recorded yet", { hint: "runs are recorded by `opsc run`" });
  const id = await resolveRunId(src, request.wanted);
  const run = await readRun(src, id);
  if (!run) throw userError("runs.not-found", `run ${id} has no run.json`);
  if (request.log !== undefined) {
    const log = await readRunFile(src, id, targetLogPath(request.log));
    if (log === null) {
      const names = run.summary.targets.map((t) => t.name).join(", ");
      throw userError("runs.no-log", `run ${id} has no log for target ${request.log}`, {
        hint: `its targets: ${names}`,
      });
    }
    return { kind: "log", text: log };
  }
  if (request.mergeShards && run.summary.shard?.group !== undefined) {
    // One shard of a sharded run: the whole run, merged from every shard's record (issue 7).
    const merged = mergeShards(siblingShards(run.summary, await listRuns(src, { job: run.summary.job })));
    return { kind: "shards", merged };
  }
  return { kind: "run", ...run };
}

async function openHistory(repo: string | undefined): Promise<RecordsSource | null> {
  const root = findRepoRoot(repo);
  const settings = readRecordsSettings(root);
  await recoverInterrupted(root, { settings, push: false });
  return openRecords(root, settings.records.branch);
}

async function resolveRunId(src: RecordsSource, wanted: string): Promise<string> {
  const ids = await runIds(src);
  if (ids.includes(wanted)) return wanted;
  const hits = ids.filter((id) => id.startsWith(wanted) || id.endsWith(`-${wanted}`));
  if (hits.length === 1 && hits[0] !== undefined) return hits[0];
  if (hits.length > 1) {
    throw userError("runs.ambiguous", `"${wanted}" matches ${hits.length} runs`, {
      hint: `for example ${hits.slice(-3).join(", ")}`,
    });
  }
  throw userError("runs.not-found", `no recorded run "${wanted}"`, { hint: "see `opsc runs list`" });
}
