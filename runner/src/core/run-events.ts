/**
 * The one stream of events a run emits. The progress view, the log writer,
 * the records and the metrics all subscribe to it; none of them talks to the engine.
 * Every string in an event has already passed through the redactor.
 */
/** Every outcome a target can have, in the order summaries list them. */
export const TARGET_OUTCOMES = [
  "ok",
  "changed",
  "failed",
  "skipped",
  "unreachable",
  "timed_out",
  "cancelled",
] as const;
export type TargetOutcome = (typeof TARGET_OUTCOMES)[number];

/** How many targets ended with each outcome (every outcome present, zero or more). */
export function countOutcomes(
  targets: ReadonlyArray<{ outcome: TargetOutcome }>,
): Record<TargetOutcome, number> {
  const counts = Object.fromEntries(TARGET_OUTCOMES.map((o) => [o, 0])) as Record<TargetOutcome, number>;
  for (const t of targets) counts[t.outcome]++;
  return counts;
}
export type StepOutcome = "ok" | "changed" | "failed" | "skipped" | "timed_out" | "cancelled";
export type RunResult = "success" | "failure" | "cancelled" | "interrupted";

export type RunEvent =
  | { type: "run.started"; at: string; runId: string; job: string; targets: string[] }
  | { type: "phase.started"; at: string; phase: string }
  | { type: "target.started"; at: string; target: string; phase: string }
  | { type: "target.connected"; at: string; target: string; ms: number }
  | { type: "step.started"; at: string; target: string; step: string; attempt: number }
  | {
      type: "step.output";
      at: string;
      target: string;
      step: string;
      stream: "stdout" | "stderr";
      line: string;
    }
  | {
      type: "step.finished";
      at: string;
      target: string;
      step: string;
      outcome: StepOutcome;
      exitCode?: number;
      ms: number;
      attempt: number;
      outputs: Record<string, string>;
      /** Why, for failed / timed_out / skipped. */
      reason?: string;
    }
  | {
      /** Facts gathered on the target (job `facts: true`), once per run. */
      type: "target.facts";
      at: string;
      target: string;
      facts: Record<string, unknown>;
    }
  | {
      type: "target.finished";
      at: string;
      target: string;
      outcome: TargetOutcome;
      ms: number;
      reason?: string;
    }
  | { type: "phase.finished"; at: string; phase: string }
  | { type: "run.finished"; at: string; result: RunResult; ms: number };

export type RunEventListener = (event: RunEvent) => void;
