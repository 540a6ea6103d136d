/**
 * run.json: the machine-readable record (schema/run.schema.json). Pretty so a
 * diff on GitHub reads well; keys in a fixed order so identical runs give
 * identical bytes (the audit line carries this file's hash).
 */
import type { RunSummary, StepSummary, TargetLockSummary, TargetSummary } from "../core/run-summary.js";

export const RUN_SCHEMA_ID = "https://opsconductor.dev/schema/run.schema.json";

/** The order keys are written in; fields added to RunSummary later follow, so none is ever dropped. */
const KEY_ORDER = [
  "id",
  "job",
  "result",
  "startedAt",
  "finishedAt",
  "trigger",
  "actor",
  "sourceCommit",
  "dirtyTree",
  "ref",
  "inputs",
  "checkMode",
  "shard",
  "counts",
  "lastFinishedStep",
  "targets",
  "notifications",
] as const;

export function renderRunJson(summary: RunSummary): string {
  const fields = summary as unknown as Record<string, unknown>;
  const ordered: Record<string, unknown> = { $schema: RUN_SCHEMA_ID };
  for (const key of KEY_ORDER) {
    ordered[key] = key === "targets" ? summary.targets.map(orderTarget) : fields[key];
  }
  for (const [key, value] of Object.entries(fields)) if (!(key in ordered)) ordered[key] = value;
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

function orderTarget(t: TargetSummary): TargetSummary {
  return {
    name: t.name,
    phase: t.phase,
    outcome: t.outcome,
    ms: t.ms,
    reason: t.reason,
    ...(t.lock ? { lock: orderLock(t.lock) } : {}),
    steps: t.steps.map(orderStep),
  };
}

function orderLock(l: TargetLockSummary): TargetLockSummary {
  return {
    result: l.result,
    waitedMs: l.waitedMs,
    ...(l.heldBy ? { heldBy: { run: l.heldBy.run, replica: l.heldBy.replica } } : {}),
    ...(l.takenOverFrom
      ? { takenOverFrom: { run: l.takenOverFrom.run, replica: l.takenOverFrom.replica } }
      : {}),
    ...(l.lost ? { lost: true } : {}),
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
