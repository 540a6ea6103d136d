/**
 * run.json: the machine-readable record (schema/run.schema.json). Pretty so a
 * diff on GitHub reads well; keys in a fixed order so identical runs give
 * identical bytes (the audit line carries this file's hash).
 */
import type { RunSummary, StepSummary, TargetSummary } from "../core/run-summary.js";

export const RUN_SCHEMA_ID = "https://opsconductor.dev/schema/run.schema.json";

export function renderRunJson(summary: RunSummary): string {
  const ordered = {
    $schema: RUN_SCHEMA_ID,
    id: summary.id,
    job: summary.job,
    result: summary.result,
    startedAt: summary.startedAt,
    finishedAt: summary.finishedAt,
    trigger: summary.trigger,
    actor: summary.actor,
    sourceCommit: summary.sourceCommit,
    ref: summary.ref,
    inputs: summary.inputs,
    checkMode: summary.checkMode,
    shard: summary.shard,
    counts: summary.counts,
    lastFinishedStep: summary.lastFinishedStep,
    targets: summary.targets.map(orderTarget),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

function orderTarget(t: TargetSummary): TargetSummary {
  return {
    name: t.name,
    phase: t.phase,
    outcome: t.outcome,
    ms: t.ms,
    reason: t.reason,
    steps: t.steps.map(orderStep),
  };
}

function orderStep(s: StepSummary): StepSummary {
  return {
    id: s.id,
    outcome: s.outcome,
    ms: s.ms,
    attempts: s.attempts,
    exitCode: s.exitCode,
    reason: s.reason,
  };
}

/** Parses run.json back; the `$schema` key is not part of RunSummary. */
export function parseRunJson(text: string): RunSummary {
  const { $schema: _ignored, ...summary } = JSON.parse(text) as RunSummary & { $schema?: string };
  return summary;
}
