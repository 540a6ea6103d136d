/**
 * A recorded run told again as its event stream: run.json gives the run and
 * target outcomes, each target's log gives the steps and output lines in the
 * order they happened. Used to replay a finished run to a subscriber who
 * arrives after the server stopped holding it live. Pure.
 */
import type { RunEvent, StepOutcome } from "../core/run-events.js";
import type { RunSummary } from "../core/run-summary.js";

const STEP_START = /^>>> (\S+) step (.+?)(?: \(attempt (\d+)\))?$/;
const STEP_END = /^<<< step (\S+) (\S+) in (\d+) ms/;
const HEADER = /^(===|---) /;

export function eventsFromRecord(summary: RunSummary, logs: ReadonlyMap<string, string>): RunEvent[] {
  const events: RunEvent[] = [
    {
      type: "run.started",
      at: summary.startedAt,
      runId: summary.id,
      job: summary.job,
      targets: summary.targets.map((t) => t.name),
    },
  ];
  for (const target of summary.targets) {
    let at = summary.startedAt;
    events.push({ type: "target.started", at, target: target.name, phase: target.phase });
    let step = "";
    const stepsById = new Map(target.steps.map((s) => [s.id, s]));
    for (const line of (logs.get(target.name) ?? "").split("\n")) {
      if (line === "") continue;
      const start = STEP_START.exec(line);
      if (start) {
        at = start[1]!;
        step = start[2]!;
        events.push({ type: "step.started", at, target: target.name, step, attempt: Number(start[3] ?? 1) });
        continue;
      }
      const end = STEP_END.exec(line);
      if (end) {
        const s = stepsById.get(end[1]!);
        events.push({
          type: "step.finished",
          at,
          target: target.name,
          step: end[1]!,
          outcome: end[2] as StepOutcome,
          ms: Number(end[3]),
          attempt: s?.attempts ?? 1,
          outputs: {},
          ...(s?.exitCode !== undefined ? { exitCode: s.exitCode } : {}),
          ...(s?.reason !== undefined ? { reason: s.reason } : {}),
        });
        continue;
      }
      if (HEADER.test(line)) continue;
      const stderr = line.startsWith("[stderr] ");
      events.push({
        type: "step.output",
        at,
        target: target.name,
        step,
        stream: stderr ? "stderr" : "stdout",
        line: stderr ? line.slice("[stderr] ".length) : line,
      });
    }
    events.push({
      type: "target.finished",
      at: summary.finishedAt,
      target: target.name,
      outcome: target.outcome,
      ms: target.ms,
      ...(target.reason !== undefined ? { reason: target.reason } : {}),
    });
  }
  const ms = Date.parse(summary.finishedAt) - Date.parse(summary.startedAt);
  events.push({
    type: "run.finished",
    at: summary.finishedAt,
    result: summary.result,
    ms: Number.isFinite(ms) ? ms : 0,
  });
  return events;
}
