/**
 * What a person sees while a run goes: on a terminal, a live board (counts,
 * elapsed time, targets by steps) redrawn in place; elsewhere (CI logs, pipes),
 * plain lines. Both end with a summary table. It only listens to RunEvents.
 */
import type { Plan } from "../core/plan-model.js";
import { textTable } from "../core/text-table.js";
import { TARGET_OUTCOMES, type RunEvent, type StepOutcome, type TargetOutcome } from "../core/run-events.js";
import type { RunOutcome } from "../run/run-plan.js";

export interface ProgressViewOptions {
  write(text: string): void;
  /** Redraw in place (a TTY). */
  live: boolean;
  /** Terminal width for the live board. */
  columns?: number;
  /** Print every output line in plain mode (default: only those of failed steps, at the end). */
  showOutput?: boolean;
  /** Rows of the live board. */
  maxRows?: number;
}

const STEP_MARK: Record<StepOutcome | "running" | "pending", string> = {
  ok: "✓",
  changed: "●",
  failed: "✗",
  skipped: "-",
  timed_out: "T",
  cancelled: "/",
  running: "▶",
  pending: "·",
};

const TAIL_LINES = 20;

export class ProgressView {
  private readonly t0 = Date.now();
  private readonly stepIds: string[];
  /** Step id -> attempts allowed (`retry.attempts`). */
  private readonly attempts = new Map<string, number>();
  private readonly stepState = new Map<string, Map<string, StepOutcome | "running">>();
  private readonly targetState = new Map<string, TargetOutcome | "running">();
  private readonly tails = new Map<string, string[]>();
  private readonly failedSteps: Array<{ target: string; step: string; reason?: string }> = [];
  private phase = "";
  private timer: NodeJS.Timeout | undefined;
  private drawnLines = 0;
  /**
   * Plain lines not yet written: one write per event cost a run on 100
   * targets ~200 ms of blocking writes to a pipe, so lines go out in batches.
   */
  private pending: string[] = [];
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly plan: Plan,
    private readonly opts: ProgressViewOptions,
  ) {
    this.stepIds = [...new Set(plan.phases.flatMap((p) => p.steps.map((s) => s.id)))];
    for (const s of plan.phases.flatMap((p) => p.steps)) this.attempts.set(s.id, s.retry?.attempts ?? 1);
    if (opts.live) {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
  }

  readonly listener = (e: RunEvent): void => {
    switch (e.type) {
      case "phase.started":
        this.phase = e.phase;
        if (!this.opts.live && this.plan.phases.length > 1) this.line(`phase ${e.phase}`);
        break;
      case "target.started":
        this.targetState.set(e.target, "running");
        break;
      case "step.started":
        this.steps(e.target).set(e.step, "running");
        // A tail is the output of the step's latest attempt only.
        this.tails.delete(`${e.target}\u0000${e.step}`);
        if (!this.opts.live && e.attempt > 1) this.line(`${e.target} ${e.step}: attempt ${e.attempt}`);
        break;
      case "step.output": {
        const key = `${e.target}\u0000${e.step}`;
        const tail = this.tails.get(key) ?? [];
        tail.push(e.line);
        if (tail.length > TAIL_LINES) tail.shift();
        this.tails.set(key, tail);
        if (!this.opts.live && this.opts.showOutput) this.line(`${e.target} ${e.step} | ${e.line}`);
        break;
      }
      case "step.finished": {
        this.steps(e.target).set(e.step, e.outcome);
        // Each attempt finishes: a retry that succeeds takes back the failure before it.
        const earlier = this.failedSteps.findIndex((f) => f.target === e.target && f.step === e.step);
        if (earlier >= 0) this.failedSteps.splice(earlier, 1);
        if (e.outcome === "failed" || e.outcome === "timed_out")
          this.failedSteps.push({
            target: e.target,
            step: e.step,
            ...(e.reason ? { reason: e.reason } : {}),
          });
        if (!this.opts.live) {
          const why = e.reason && e.outcome !== "ok" && e.outcome !== "changed" ? ` (${e.reason})` : "";
          const attempts = this.attempts.get(e.step) ?? 1;
          const of = attempts > 1 && e.attempt > 0 ? ` [attempt ${e.attempt} of ${attempts}]` : "";
          this.line(`${e.target} ${e.step}: ${e.outcome} in ${ms(e.ms)}${why}${of}`);
        }
        break;
      }
      case "target.finished":
        this.targetState.set(e.target, e.outcome);
        if (!this.opts.live) this.line(`${e.target}: ${e.outcome}${e.reason ? ` (${e.reason})` : ""}`);
        break;
      case "run.finished":
        if (this.timer) clearInterval(this.timer);
        if (this.opts.live) this.draw();
        this.flush();
        break;
      default:
        break;
    }
  };

  private steps(target: string): Map<string, StepOutcome | "running"> {
    let m = this.stepState.get(target);
    if (!m) this.stepState.set(target, (m = new Map()));
    return m;
  }

  private line(text: string): void {
    this.pending.push(`[${ms(Date.now() - this.t0)}] ${text}\n`);
    if (!this.flushTimer) {
      // Not unref'd: lines pending when a run fails with an error still get out.
      this.flushTimer = setTimeout(() => this.flush(), 100);
    }
  }

  /** Writes the lines not yet written; call before writing anything else to the same stream. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.pending.length) return;
    const text = this.pending.join("");
    this.pending = [];
    this.opts.write(text);
  }

  private counts(): string {
    const c = new Map<string, number>();
    for (const s of this.targetState.values()) c.set(s, (c.get(s) ?? 0) + 1);
    const total = Object.keys(this.plan.targets).length;
    const pending = Math.max(0, total - this.targetState.size);
    const parts = [...TARGET_OUTCOMES, "running"].filter((o) => c.get(o)).map((o) => `${o} ${c.get(o)}`);
    if (pending) parts.push(`pending ${pending}`);
    return parts.join("  ");
  }

  /** The live board: header, then targets by steps (running and failed first when they do not all fit). */
  private draw(): void {
    const width = Math.max(40, this.opts.columns ?? 100);
    const rows = this.opts.maxRows ?? 20;
    const out: string[] = [];
    out.push(
      clip(
        `${this.plan.job}  ${this.phase ? `phase ${this.phase}  ` : ""}${ms(Date.now() - this.t0)}  ${this.counts()}`,
        width,
      ),
    );
    out.push(clip(`  steps: ${this.stepIds.join(" ")}`, width));
    const names = Object.keys(this.plan.targets);
    const rank = (n: string): number => {
      const s = this.targetState.get(n);
      return s === "running"
        ? 0
        : s === "failed" || s === "unreachable" || s === "timed_out"
          ? 1
          : s === undefined
            ? 3
            : 2;
    };
    const shown = names.length <= rows ? names : [...names].sort((a, b) => rank(a) - rank(b)).slice(0, rows);
    const nameWidth = Math.min(24, Math.max(...shown.map((n) => n.length), 6));
    for (const n of shown) {
      const st = this.stepState.get(n);
      const marks = this.stepIds.map((id) => STEP_MARK[st?.get(id) ?? "pending"]).join("");
      const state = this.targetState.get(n) ?? "pending";
      out.push(clip(`  ${n.padEnd(nameWidth)} ${marks}  ${state}`, width));
    }
    if (shown.length < names.length) out.push(`  … ${names.length - shown.length} more`);
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F` : "";
    this.opts.write(`${up}${out.map((l) => `\x1b[2K${l}`).join("\n")}\n`);
    this.drawnLines = out.length;
  }

  /** The summary table, and the last output lines of each failed step. */
  finish(outcome: Pick<RunOutcome, "runId" | "result" | "targets" | "counts" | "ms">): void {
    if (this.timer) clearInterval(this.timer);
    this.flush();
    const lines: string[] = [""];
    for (const f of this.failedSteps) {
      const tail = this.tails.get(`${f.target}\u0000${f.step}`) ?? [];
      lines.push(`── ${f.target} ${f.step}: ${f.reason ?? "failed"}`);
      for (const l of tail) lines.push(`   ${l}`);
    }
    if (this.failedSteps.length) lines.push("");
    const rows = outcome.targets.map((t) => [
      t.name,
      ...(this.plan.phases.length > 1 ? [t.phase] : []),
      t.outcome,
      ms(t.ms),
      t.steps.map((s) => `${STEP_MARK[s.outcome]}${s.id}`).join(" ") || (t.reason ?? ""),
    ]);
    const header = ["TARGET", ...(this.plan.phases.length > 1 ? ["PHASE"] : []), "OUTCOME", "TIME", "STEPS"];
    lines.push(...textTable([header, ...rows]));
    const counts = TARGET_OUTCOMES.filter((o) => outcome.counts[o]).map((o) => `${outcome.counts[o]} ${o}`);
    lines.push(
      "",
      `${outcome.result}: ${counts.join(", ") || "no targets"} in ${ms(outcome.ms)} (run ${outcome.runId})`,
    );
    this.opts.write(`${lines.join("\n")}\n`);
  }
}

function clip(s: string, width: number): string {
  return s.length > width ? `${s.slice(0, width - 1)}…` : s;
}

export function ms(n: number): string {
  if (n < 1000) return `${n}ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(1)}s`;
  const seconds = Math.round(n / 1000);
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}
