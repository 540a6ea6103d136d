/**
 * Listens to a run's events and builds what is recorded: the RunSummary
 * (run.json) and one log per target. It also rebuilds a cut-off run from a
 * journal, so a crashed run is recorded from the same code as a finished one.
 *
 * Events arrive already masked by the engine; their text is masked again
 * here, because a record is forever and a second pass costs little. Only text
 * is masked (secrets/mask-run-text.ts): a short secret must never reach a run id or a timestamp.
 */
import type { Plan } from "../core/plan-model.js";
import {
  countOutcomes,
  type RunEvent,
  type RunEventListener,
  type RunResult,
  type StepOutcome,
} from "../core/run-events.js";
import type { RunSummary, StepSummary, TargetSummary } from "../core/run-summary.js";
import type { Redactor } from "../secrets/redactor.js";
import { maskEventText, maskSummaryText } from "../secrets/mask-run-text.js";

/** The parts of a Plan a record needs; a journal stores exactly these. */
export interface RecordContext {
  job: string;
  trigger: Plan["trigger"];
  commit?: string;
  dirtyTree?: Plan["dirtyTree"];
  ref?: string;
  inputs: Record<string, unknown>;
  checkMode: boolean;
  shard?: { index: number; count: number };
  /** Phase name -> target names, in plan order. */
  phases: Array<{ name: string; targets: string[] }>;
}

export function recordContext(plan: Plan): RecordContext {
  return {
    job: plan.job,
    trigger: plan.trigger,
    commit: plan.commit,
    ...(plan.dirtyTree ? { dirtyTree: plan.dirtyTree } : {}),
    ref: plan.ref,
    inputs: plan.inputs,
    checkMode: plan.checkMode,
    shard: plan.shard,
    phases: plan.phases.map((p) => ({ name: p.name, targets: [...p.targets] })),
  };
}

interface TargetState {
  summary: TargetSummary;
  startedAt?: number;
  finished: boolean;
  /** Step id -> attempt now running. */
  running: Map<string, { attempt: number; at: number }>;
}

export class RunRecorder {
  private readonly context: RecordContext;
  private id: string | undefined;
  private startedAt: string | undefined;
  private finished: { at: string; result: RunResult } | undefined;
  private lastAt: string | undefined;
  private readonly targets = new Map<string, TargetState>();
  private readonly currentPhase = new Map<string, string>();
  private readonly logs = new Map<string, string[]>();
  private lastFinishedStep: { target: string; step: string } | undefined;

  /** Pass to the engine's `listeners`. */
  readonly listener: RunEventListener = (event) => this.apply(event);

  constructor(
    plan: Plan | RecordContext,
    runId: string | undefined,
    private readonly redactor: Redactor,
  ) {
    this.context = "secrets" in plan ? recordContext(plan) : plan;
    this.id = runId;
  }

  get runId(): string | undefined {
    return this.id;
  }

  get isFinished(): boolean {
    return this.finished !== undefined;
  }

  apply(raw: RunEvent): void {
    const event = maskEventText(raw, this.redactor);
    this.lastAt = event.at;
    switch (event.type) {
      case "run.started":
        this.id ??= event.runId;
        this.startedAt = event.at;
        break;
      case "target.started": {
        this.currentPhase.set(event.target, event.phase);
        const state = this.state(event.target, event.phase);
        state.startedAt = Date.parse(event.at);
        this.log(event.target, `=== ${event.at} target ${event.target} (phase ${event.phase})`);
        break;
      }
      case "target.connected":
        this.log(event.target, `--- connected in ${event.ms} ms`);
        break;
      case "target.facts":
        this.state(event.target).summary.facts = this.redactor.redactDeep(event.facts);
        this.log(event.target, `--- facts ${JSON.stringify(event.facts)}`);
        break;
      case "step.started": {
        const state = this.state(event.target);
        state.running.set(event.step, { attempt: event.attempt, at: Date.parse(event.at) });
        const attempt = event.attempt > 1 ? ` (attempt ${event.attempt})` : "";
        this.log(event.target, `>>> ${event.at} step ${event.step}${attempt}`);
        break;
      }
      case "step.output":
        this.log(event.target, event.stream === "stderr" ? `[stderr] ${event.line}` : event.line);
        break;
      case "step.finished": {
        const state = this.state(event.target);
        state.running.delete(event.step);
        const step: StepSummary = {
          id: event.step,
          outcome: event.outcome,
          ms: event.ms,
          attempts: event.attempt,
        };
        if (event.exitCode !== undefined) step.exitCode = event.exitCode;
        if (event.reason !== undefined) step.reason = event.reason;
        const steps = state.summary.steps;
        const at = steps.findIndex((s) => s.id === event.step);
        if (at >= 0) steps[at] = step;
        else steps.push(step);
        if (event.outcome !== "skipped" && event.outcome !== "cancelled") {
          this.lastFinishedStep = { target: event.target, step: event.step };
        }
        const exit = event.exitCode !== undefined ? `, exit ${event.exitCode}` : "";
        const why = event.reason !== undefined ? `: ${event.reason}` : "";
        this.log(event.target, `<<< step ${event.step} ${event.outcome} in ${event.ms} ms${exit}${why}`);
        break;
      }
      case "target.finished": {
        const state = this.state(event.target);
        state.finished = true;
        state.summary.outcome = event.outcome;
        state.summary.ms = event.ms;
        if (event.reason !== undefined) state.summary.reason = event.reason;
        const why = event.reason !== undefined ? `: ${event.reason}` : "";
        this.log(event.target, `=== target ${event.target} ${event.outcome} in ${event.ms} ms${why}`);
        break;
      }
      case "run.finished":
        this.finished = { at: event.at, result: event.result };
        break;
      case "phase.started":
      case "phase.finished":
        break;
    }
  }

  private state(
    target: string,
    phase = this.currentPhase.get(target) ?? this.context.phases[0]?.name ?? "main",
  ): TargetState {
    const key = `${phase}\u0000${target}`;
    let state = this.targets.get(key);
    if (!state) {
      state = {
        summary: { name: target, phase, outcome: "cancelled", ms: 0, steps: [] },
        finished: false,
        running: new Map(),
      };
      this.targets.set(key, state);
    }
    return state;
  }

  private log(target: string, line: string): void {
    let lines = this.logs.get(target);
    if (!lines) this.logs.set(target, (lines = []));
    // Built from events apply() has masked already.
    lines.push(line);
  }

  /**
   * The record. Before `run.finished` (a crash, a kill) the run is
   * `interrupted`: unfinished steps and targets are marked cancelled with the
   * reason, and the last finished step is kept so an operator knows where to resume.
   */
  summary(interruptedAt?: Date): RunSummary {
    const result: RunResult = this.finished?.result ?? "interrupted";
    const finishedAt =
      this.finished?.at ?? (interruptedAt ?? new Date(this.lastAt ?? Date.now())).toISOString();
    const end = Date.parse(finishedAt);
    const targets: TargetSummary[] = [];
    for (const phase of this.context.phases) {
      for (const name of phase.targets) {
        const state = this.targets.get(`${phase.name}\u0000${name}`);
        if (!state) {
          targets.push({
            name,
            phase: phase.name,
            outcome: "cancelled",
            ms: 0,
            reason: result === "interrupted" ? "not started: the run was interrupted" : "not started",
            steps: [],
          });
          continue;
        }
        const t: TargetSummary = { ...state.summary, steps: [...state.summary.steps] };
        if (!state.finished) {
          for (const [step, running] of state.running) {
            const outcome: StepOutcome = "cancelled";
            t.steps.push({
              id: step,
              outcome,
              ms: Math.max(0, end - running.at),
              attempts: running.attempt,
              reason: "interrupted",
            });
          }
          t.outcome = "cancelled";
          t.ms = state.startedAt !== undefined ? Math.max(0, end - state.startedAt) : 0;
          t.reason = "interrupted while running";
        }
        targets.push(t);
      }
    }
    const counts = countOutcomes(targets);
    const summary: RunSummary = {
      id: this.id ?? "unknown",
      job: this.context.job,
      result,
      startedAt: this.startedAt ?? finishedAt,
      finishedAt,
      trigger: this.context.trigger,
      actor: this.context.trigger.actor,
      inputs: this.context.inputs,
      checkMode: this.context.checkMode,
      targets,
      counts,
    };
    if (this.context.commit !== undefined) summary.sourceCommit = this.context.commit;
    if (this.context.dirtyTree !== undefined) summary.dirtyTree = this.context.dirtyTree;
    if (this.context.ref !== undefined) summary.ref = this.context.ref;
    if (this.context.shard !== undefined) summary.shard = this.context.shard;
    if (result === "interrupted" && this.lastFinishedStep) summary.lastFinishedStep = this.lastFinishedStep;
    return maskSummaryText(summary, this.redactor);
  }

  /** Target name -> masked log text. Every target of the plan has one, even if empty. */
  targetLogs(): Map<string, string> {
    const out = new Map<string, string>();
    for (const phase of this.context.phases) {
      for (const name of phase.targets) {
        const lines = this.logs.get(name);
        out.set(name, lines && lines.length > 0 ? `${lines.join("\n")}\n` : "");
      }
    }
    return out;
  }
}
