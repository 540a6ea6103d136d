/**
 * The shards of one sharded run, seen as one run: each shard pushes its own
 * record (so no shard waits for another), and readers merge them by
 * `shard.group`. Pure.
 */
import { countOutcomes, type RunResult } from "../core/run-events.js";
import type { RunSummary } from "../core/run-summary.js";

export interface MergedShards {
  /** The merged view: targets of every shard, counts summed, the worst result of the shards found. */
  summary: RunSummary;
  /** The shard records found, by shard index. */
  shards: Array<{ index: number; count: number; id: string; result: RunResult }>;
  /** Shard indexes (1-based) with no record yet: still running, failed to push, or never started. */
  missing: number[];
}

/** Worst first: a run is as good as its worst shard. */
const SEVERITY: RunResult[] = ["interrupted", "failure", "cancelled", "success"];

/** Runs of the same sharded run as `one`, from a list of candidate summaries. */
export function siblingShards(one: RunSummary, candidates: readonly RunSummary[]): RunSummary[] {
  const group = one.shard?.group;
  if (group === undefined) return [one];
  const found = candidates.filter(
    (s) => s.job === one.job && s.shard?.group === group && s.shard.count === one.shard?.count,
  );
  return found.some((s) => s.id === one.id) ? found : [one, ...found];
}

export function mergeShards(shards: readonly RunSummary[]): MergedShards {
  const sorted = [...shards].sort((a, b) => (a.shard?.index ?? 0) - (b.shard?.index ?? 0));
  const first = sorted[0];
  if (!first) throw new Error("mergeShards needs at least one record");
  const count = first.shard?.count ?? 1;
  const seen = new Set(sorted.map((s) => s.shard?.index ?? 1));
  const result = SEVERITY.find((r) => sorted.some((s) => s.result === r)) ?? "success";
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i));
  const targets = sorted
    .flatMap((s) => s.targets)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const summary: RunSummary = {
    ...first,
    result,
    startedAt: sorted.map((s) => s.startedAt).sort()[0] ?? first.startedAt,
    finishedAt:
      sorted
        .map((s) => s.finishedAt)
        .sort()
        .at(-1) ?? first.finishedAt,
    targets,
    counts: countOutcomes(targets),
  };
  return {
    summary,
    shards: sorted.map((s) => ({ index: s.shard?.index ?? 1, count, id: s.id, result: s.result })),
    missing,
  };
}
