/**
 * The engine: executes a Plan through Transports and emits RunEvents.
 *
 * Phases run in order; in a phase, rolling batches run in order, each with up to
 * `parallel` targets at once; on a target, steps run in order over one connection.
 * Every string that leaves the engine passes through the Redactor first.
 */
import { setMaxListeners } from "node:events";
import { boundedPool } from "../core/bounded-pool.js";
import { errorText } from "../core/error-text.js";
import { isOpscError } from "../core/errors.js";
import {
  evaluateCondition,
  renderDeep,
  renderTemplate,
  stringifyValue,
  type ExpressionContext,
} from "../core/expressions.js";
import { inputEnvText, inputProblems } from "../core/input-schema.js";
import type { Plan, PlannedPhase, PlannedStep, PlannedTarget } from "../core/plan-model.js";
import type {
  RunEvent,
  RunEventListener,
  RunResult,
  StepOutcome,
  TargetOutcome,
} from "../core/run-events.js";
import { countOutcomes } from "../core/run-events.js";
import type { StepSummary, TargetSummary } from "../core/run-summary.js";
import type { Redactor } from "../secrets/redactor.js";
import { maskEventText } from "../secrets/mask-run-text.js";
import { buildStepScript } from "../transports/script-builder.js";
import type { Transport } from "../transports/transport.js";
import { runCopy } from "./copy-step.js";
import { gatherFacts } from "./gather-facts.js";
import { parseOutputs, StepStdout, type Trailer } from "./step-stdout.js";
import { newRunId } from "../core/run-id.js";

export interface RunOptions {
  /** The transport for a target; called at most once per target per run. */
  transportFor(target: PlannedTarget): Transport;
  redactor: Redactor;
  /** Env var name -> secret value, already registered with the redactor. */
  secrets?: Record<string, string>;
  /** The sudo password for a target (from its `sudo.password` credential), registered with the redactor. */
  sudoPassword?(target: PlannedTarget): string | undefined | Promise<string | undefined>;
  listeners?: RunEventListener[];
  /** Abort = Ctrl-C: running steps are killed, the rest cancelled, the summary still produced. */
  signal?: AbortSignal;
  runId?: string;
  now?: () => Date;
  /** Content of a repository file at the run's commit, for `copy` steps. */
  readRepoFile?(path: string): Uint8Array | undefined;
  /** Targets decided before the run (another run holds their lock): finished with this outcome, untouched. */
  decided?: ReadonlyMap<string, { outcome: TargetOutcome; reason: string }>;
  /**
   * Why the run no longer holds a target's lock (another run took it after this one failed to
   * renew it), else undefined: asked before each step, so no further step starts there.
   */
  lockLost?(target: string): string | undefined;
}

export interface RunOutcome {
  runId: string;
  result: RunResult;
  startedAt: string;
  finishedAt: string;
  ms: number;
  targets: TargetSummary[];
  counts: Record<TargetOutcome, number>;
}

interface StepState {
  outputs: Record<string, string>;
  changed: boolean;
  outcome: StepOutcome;
  conclusion: StepOutcome;
}

export async function runPlan(plan: Plan, options: RunOptions): Promise<RunOutcome> {
  return new Engine(plan, options).run();
}

class Engine {
  private readonly now: () => Date;
  private readonly runId: string;
  private readonly started: Date;
  private readonly summaries = new Map<string, TargetSummary>();
  private readonly transports = new Map<string, Transport>();
  /** Aborts on Ctrl-C or job timeout; `reason` says which. */
  private readonly abort = new AbortController();
  private abortReason: "cancelled" | "timed_out" | null = null;
  /** Targets out of later phases because they failed earlier. */
  private readonly failedEarlier = new Map<string, string>();

  constructor(
    private readonly plan: Plan,
    private readonly opts: RunOptions,
  ) {
    this.now = opts.now ?? (() => new Date());
    this.started = this.now();
    this.runId = opts.runId ?? newRunId(plan.job, this.started);
    // Every running target listens on the one abort signal.
    setMaxListeners(0, this.abort.signal);
  }

  private emit(event: RunEvent): void {
    // Output lines were masked as they were split; reasons are masked here. Structure never is.
    const clean = event.type === "step.output" ? event : maskEventText(event, this.opts.redactor);
    for (const l of this.opts.listeners ?? []) l(clean);
  }

  private at(): string {
    return this.now().toISOString();
  }

  async run(): Promise<RunOutcome> {
    const t0 = performance.now();
    const onUserAbort = (): void => this.stop("cancelled");
    if (this.opts.signal?.aborted) this.stop("cancelled");
    this.opts.signal?.addEventListener("abort", onUserAbort, { once: true });
    const jobTimer =
      this.plan.timeoutMs !== undefined
        ? setTimeout(() => this.stop("timed_out"), this.plan.timeoutMs)
        : undefined;
    const allTargets = [...new Set(this.plan.phases.flatMap((p) => p.targets))];
    this.emit({
      type: "run.started",
      at: this.started.toISOString(),
      runId: this.runId,
      job: this.plan.job,
      targets: allTargets,
    });
    const lastPhase = new Map<string, number>();
    this.plan.phases.forEach((p, i) => p.targets.forEach((t) => lastPhase.set(t, i)));
    let stopPhases: string | null = null;
    try {
      for (const [index, phase] of this.plan.phases.entries()) {
        this.emit({ type: "phase.started", at: this.at(), phase: phase.name });
        if (stopPhases !== null) {
          for (const t of phase.targets) this.finishUnstarted(t, phase, "cancelled", stopPhases);
        } else {
          const exceeded = await this.runPhase(phase);
          if (exceeded) stopPhases = `phase ${phase.name} exceeded max_failures (${phase.maxFailures})`;
        }
        // A connection is kept while later phases still need the target.
        await Promise.all(
          phase.targets.filter((t) => lastPhase.get(t) === index).map((t) => this.transports.get(t)?.close()),
        );
        this.emit({ type: "phase.finished", at: this.at(), phase: phase.name });
      }
    } finally {
      clearTimeout(jobTimer);
      this.opts.signal?.removeEventListener("abort", onUserAbort);
      await Promise.all([...this.transports.values()].map((t) => t.close().catch(() => undefined)));
    }
    // Plan order, not finishing order: summaries read the same on every run.
    const targets = this.plan.phases.flatMap((p) =>
      p.targets
        .map((t) => this.summaries.get(`${p.name}\u0000${t}`))
        .filter((s): s is TargetSummary => s !== undefined),
    );
    const counts = countOutcomes(targets);
    const result: RunResult =
      this.abortReason === "cancelled"
        ? "cancelled"
        : counts.failed + counts.unreachable + counts.timed_out + counts.cancelled > 0
          ? "failure"
          : "success";
    const ms = Math.round(performance.now() - t0);
    const finishedAt = this.at();
    this.emit({ type: "run.finished", at: finishedAt, result, ms });
    return {
      runId: this.runId,
      result,
      startedAt: this.started.toISOString(),
      finishedAt,
      ms,
      targets,
      counts,
    };
  }

  private stop(reason: "cancelled" | "timed_out"): void {
    if (this.abortReason !== null) return;
    this.abortReason = reason;
    this.abort.abort();
  }

  /** Runs a phase's batches; returns true when failures exceeded max_failures. */
  private async runPhase(phase: PlannedPhase): Promise<boolean> {
    let failures = 0;
    let exceededAt: number | null = null;
    for (const [b, batch] of phase.batches.entries()) {
      if (exceededAt !== null || this.abort.signal.aborted) {
        const why =
          exceededAt !== null
            ? `max_failures (${phase.maxFailures}) exceeded in batch ${exceededAt + 1}`
            : this.abortReason === "timed_out"
              ? "job timeout"
              : "run cancelled";
        const outcome = this.abortReason === "timed_out" && exceededAt === null ? "timed_out" : "cancelled";
        for (const t of batch) this.finishUnstarted(t, phase, outcome, why);
        continue;
      }
      await boundedPool(batch, Math.max(1, phase.parallel), async (name) => {
        const outcome = await this.runTarget(name, phase);
        if (outcome === "failed" || outcome === "unreachable" || outcome === "timed_out") failures++;
      });
      if (failures > phase.maxFailures) exceededAt = b;
    }
    return exceededAt !== null;
  }

  /** Every target.finished follows a target.started, so listeners always know the phase. */
  private finishUnstarted(name: string, phase: PlannedPhase, outcome: TargetOutcome, reason: string): void {
    this.emit({ type: "target.started", at: this.at(), target: name, phase: phase.name });
    this.record(name, phase, outcome, 0, reason, []);
    this.emit({ type: "target.finished", at: this.at(), target: name, outcome, ms: 0, reason });
  }

  private record(
    name: string,
    phase: PlannedPhase,
    outcome: TargetOutcome,
    ms: number,
    reason: string | undefined,
    steps: StepSummary[],
  ): void {
    const key = `${phase.name}\u0000${name}`;
    const r = reason === undefined ? undefined : this.opts.redactor.redact(reason);
    this.summaries.set(key, {
      name,
      phase: phase.name,
      outcome,
      ms,
      ...(r !== undefined ? { reason: r } : {}),
      steps,
    });
  }

  private async runTarget(name: string, phase: PlannedPhase): Promise<TargetOutcome> {
    const target = this.plan.targets[name];
    const t0 = performance.now();
    const steps: StepSummary[] = [];
    const finish = (outcome: TargetOutcome, reason?: string): TargetOutcome => {
      const ms = Math.round(performance.now() - t0);
      if (outcome === "failed" || outcome === "unreachable" || outcome === "timed_out")
        this.failedEarlier.set(name, `${outcome} in phase ${phase.name}`);
      this.record(name, phase, outcome, ms, reason, steps);
      this.emit({
        type: "target.finished",
        at: this.at(),
        target: name,
        outcome,
        ms,
        ...(reason ? { reason: this.opts.redactor.redact(reason) } : {}),
      });
      return outcome;
    };
    this.emit({ type: "target.started", at: this.at(), target: name, phase: phase.name });
    if (!target) return finish("failed", `target ${name} is not in the plan`);
    const decided = this.opts.decided?.get(name);
    if (decided) return finish(decided.outcome, decided.reason);
    const earlier = this.failedEarlier.get(name);
    if (earlier) return finish("skipped", earlier);
    if (this.abort.signal.aborted) return finish(this.abortReason ?? "cancelled", this.abortMessage());

    let transport = this.transports.get(name);
    try {
      if (!transport) {
        transport = this.opts.transportFor(target);
        this.transports.set(name, transport);
      }
      const c0 = performance.now();
      await transport.connect(this.abort.signal);
      this.emit({
        type: "target.connected",
        at: this.at(),
        target: name,
        ms: Math.round(performance.now() - c0),
      });
    } catch (e) {
      if (this.abort.signal.aborted) return finish(this.abortReason ?? "cancelled", this.abortMessage());
      return finish("unreachable", messageOf(e));
    }

    let sudoPassword: string | undefined;
    try {
      if (phase.steps.some((s) => s.sudo) && target.sudo?.password)
        sudoPassword = await this.opts.sudoPassword?.(target);
    } catch (e) {
      return finish("failed", messageOf(e));
    }

    let facts: Record<string, unknown> | undefined;
    if (this.plan.facts) {
      try {
        facts = { ...(await gatherFacts(transport, this.abort.signal)) };
      } catch (e) {
        if (this.abort.signal.aborted) return finish(this.abortReason ?? "cancelled", this.abortMessage());
        return finish("failed", messageOf(e));
      }
      this.emit({ type: "target.facts", at: this.at(), target: name, facts });
    }

    const stepStates: Record<string, StepState> = {};
    const context: ExpressionContext = {
      inputs: this.plan.inputs,
      target: {
        name: target.name,
        host: target.host ?? "",
        labels: target.labels,
        vars: target.vars,
        ...(facts ? { facts } : {}),
      },
      steps: stepStates,
      run: { id: this.runId, trigger: this.plan.trigger.kind, actor: this.plan.trigger.actor },
      git: { sha: this.plan.commit ?? "", ref: this.plan.ref ?? "" },
      job: { id: this.plan.job },
      env: {},
    };
    let jobEnv: Record<string, string>;
    try {
      jobEnv = renderEnv(this.plan.env, context);
      context.env = jobEnv;
    } catch (e) {
      return finish("failed", `job env: ${messageOf(e)}`);
    }

    let failedStep: string | null = null;
    let timedOutStep: string | null = null;
    let anyChanged = false;
    let anyRan = false;
    const notified = new Set<string>();
    for (const [i, step] of phase.steps.entries()) {
      const lost = this.opts.lockLost?.(name);
      if (lost !== undefined) {
        // Another run may be working on the target now: nothing more starts here, not even `always()` steps.
        for (const rest of phase.steps.slice(i))
          steps.push(this.skipStep(name, rest.id, `not started: ${lost}`));
        return finish("failed", `lost the lock on ${name}: ${lost}`);
      }
      const status = {
        failed: failedStep !== null || timedOutStep !== null,
        cancelled: this.abort.signal.aborted,
      };
      const summary = await this.runStep(target, step, context, jobEnv, status, sudoPassword, transport);
      steps.push(summary);
      stepStates[step.id] = summary.state;
      delete (summary as Partial<typeof summary>).state;
      if (summary.outcome === "changed") anyChanged = true;
      if (summary.outcome === "ok" || summary.outcome === "changed") anyRan = true;
      if (summary.outcome === "cancelled")
        return finish(this.abortReason ?? "cancelled", this.abortMessage());
      if (!step.continueOnError) {
        if (summary.outcome === "failed") failedStep ??= step.id;
        if (summary.outcome === "timed_out") timedOutStep ??= step.id;
      }
      if (summary.outcome === "changed") for (const h of step.notify ?? []) notified.add(h);
    }
    // Handlers: once per target, at the end of the phase, in declared order; not after a failure.
    for (const handler of phase.handlers ?? []) {
      if (!notified.has(handler.handler ?? handler.id)) continue;
      if (failedStep !== null || timedOutStep !== null) {
        const why = `notified, but step ${failedStep ?? timedOutStep} failed: handlers run only after a phase succeeds`;
        steps.push(this.skipStep(name, handler.id, why));
        continue;
      }
      const lost = this.opts.lockLost?.(name);
      if (lost !== undefined) {
        steps.push(this.skipStep(name, handler.id, `not started: ${lost}`));
        return finish("failed", `lost the lock on ${name}: ${lost}`);
      }
      const summary = await this.runStep(
        target,
        handler,
        context,
        jobEnv,
        { failed: false, cancelled: this.abort.signal.aborted },
        sudoPassword,
        transport,
      );
      steps.push(summary);
      stepStates[handler.id] = summary.state;
      delete (summary as Partial<typeof summary>).state;
      if (summary.outcome === "changed") anyChanged = true;
      if (summary.outcome === "ok" || summary.outcome === "changed") anyRan = true;
      if (summary.outcome === "cancelled")
        return finish(this.abortReason ?? "cancelled", this.abortMessage());
      if (!handler.continueOnError) {
        if (summary.outcome === "failed") failedStep ??= handler.id;
        if (summary.outcome === "timed_out") timedOutStep ??= handler.id;
      }
    }
    if (timedOutStep !== null) {
      const s = steps.find((x) => x.id === timedOutStep);
      return finish("timed_out", `step ${timedOutStep}: ${s?.reason ?? "timed out"}`);
    }
    if (failedStep !== null) {
      const s = steps.find((x) => x.id === failedStep);
      return finish("failed", `step ${failedStep}: ${s?.reason ?? "failed"}`);
    }
    return finish(anyChanged ? "changed" : anyRan ? "ok" : "skipped");
  }

  /** A step that does not start, reported and summarised as skipped with why. */
  private skipStep(target: string, step: string, reason: string): StepSummary {
    this.emit({
      type: "step.finished",
      at: this.at(),
      target,
      step,
      outcome: "skipped",
      ms: 0,
      attempt: 0,
      outputs: {},
      reason,
    });
    return { id: step, outcome: "skipped", ms: 0, attempts: 0, reason };
  }

  private abortMessage(): string {
    return this.abortReason === "timed_out"
      ? `job timeout (${this.plan.timeoutMs} ms) reached`
      : "run cancelled";
  }

  private async runStep(
    target: PlannedTarget,
    step: PlannedStep,
    context: ExpressionContext,
    jobEnv: Record<string, string>,
    status: { failed: boolean; cancelled: boolean },
    sudoPassword: string | undefined,
    transport: Transport,
  ): Promise<StepSummary & { state: StepState }> {
    const name = target.name;
    const t0 = performance.now();
    const done = (
      outcome: StepOutcome,
      attempt: number,
      extra: { exitCode?: number; reason?: string; outputs?: Record<string, string> } = {},
    ): StepSummary & { state: StepState } => {
      const ms = Math.round(performance.now() - t0);
      const outputs = this.opts.redactor.redactDeep(extra.outputs ?? {});
      const reason = extra.reason === undefined ? undefined : this.opts.redactor.redact(extra.reason);
      this.emit({
        type: "step.finished",
        at: this.at(),
        target: name,
        step: step.id,
        outcome,
        ms,
        attempt,
        outputs,
        ...(extra.exitCode !== undefined ? { exitCode: extra.exitCode } : {}),
        ...(reason !== undefined ? { reason } : {}),
      });
      return {
        id: step.id,
        outcome,
        ms,
        attempts: attempt,
        ...(extra.exitCode !== undefined ? { exitCode: extra.exitCode } : {}),
        ...(reason !== undefined ? { reason } : {}),
        state: { outputs, changed: outcome === "changed", outcome, conclusion: outcome },
      };
    };

    if (this.abort.signal.aborted)
      return done(this.abortReason === "timed_out" ? "timed_out" : "cancelled", 0, {
        reason: this.abortMessage(),
      });
    if (step.selection && !step.selection.selected)
      return done("skipped", 0, { reason: `not selected: ${step.selection.reason}` });
    let env: Record<string, string>;
    try {
      // No `if:` means success(): decided without building an expression context.
      const go =
        step.if === undefined
          ? !status.failed && !status.cancelled
          : evaluateCondition(step.if, context, status);
      if (!go) {
        return done("skipped", 0, { reason: step.if ? `if: ${step.if} is false` : "an earlier step failed" });
      }
      const stepContext = { ...context, env: jobEnv };
      env = { ...jobEnv, ...renderEnv(step.env, stepContext) };
      // Inputs known only on this target are checked here, before the step starts.
      for (const input of step.runtimeInputs ?? []) {
        const value = renderDeep(input.value, stepContext);
        const problems = inputProblems(input.schema, value);
        if (problems.length > 0) {
          return done("failed", 0, {
            reason: `input "${input.input}" is ${JSON.stringify(value)}: ${problems.join("; ")}`,
          });
        }
        env[input.env] = inputEnvText(value);
      }
      Object.assign(env, this.opts.secrets ?? {});
    } catch (e) {
      return done("failed", 0, { reason: `expression: ${messageOf(e)}` });
    }
    if (step.copy) return this.runCopyStep(target, step, context, sudoPassword, transport, done);
    if (this.plan.checkMode && step.check === undefined) {
      return done("skipped", 0, { reason: "no check script; --check runs nothing else" });
    }
    if (step.sudo && target.sudo?.enabled === false) {
      return done("failed", 0, {
        reason: `step needs sudo, but target ${target.name} has sudo.enabled: false`,
      });
    }
    const shell = step.shell ?? target.shell;
    const sudo = step.sudo
      ? {
          ...(target.sudo?.user ? { user: target.sudo.user } : {}),
          ...(sudoPassword !== undefined ? { password: sudoPassword } : {}),
        }
      : undefined;
    const attempts = Math.max(1, step.retry?.attempts ?? 1);
    let last!: StepSummary & { state: StepState };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let script;
      try {
        script = buildStepScript({
          shell,
          env,
          mode: this.plan.checkMode ? "check" : "run",
          ...(step.check !== undefined ? { check: step.check } : {}),
          ...(step.run !== undefined ? { run: step.run } : {}),
          ...(sudo ? { sudo } : {}),
        });
      } catch (e) {
        return done("failed", attempt, { reason: messageOf(e) });
      }
      this.emit({ type: "step.started", at: this.at(), target: name, step: step.id, attempt });
      const emitLine = (stream: "stdout" | "stderr") => (line: string) =>
        this.emit({ type: "step.output", at: this.at(), target: name, step: step.id, stream, line });
      const out = this.opts.redactor.lineSplitter(emitLine("stdout"));
      const err = this.opts.redactor.lineSplitter(emitLine("stderr"));
      const stdout = new StepStdout(script.marker, (text) => out.write(text));
      const errDecoder = new TextDecoder("utf-8");
      let result;
      try {
        result = await transport.exec({
          script: script.text,
          shell,
          ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
          signal: this.abort.signal,
          ...(sudo ? { sudo } : {}),
          onStdout: (b) => stdout.write(b),
          onStderr: (b) => err.write(errDecoder.decode(b, { stream: true })),
        });
      } catch (e) {
        out.end();
        err.end();
        return done("failed", attempt, { reason: `connection lost: ${messageOf(e)}` });
      }
      const trailer = stdout.end();
      err.write(errDecoder.decode());
      out.end();
      err.end();
      last = this.classify(result, trailer, step, attempt, done);
      const retryable = last.outcome === "failed" || last.outcome === "timed_out";
      if (!retryable || attempt === attempts || this.abort.signal.aborted) break;
      await sleep(step.retry?.delayMs ?? 0, this.abort.signal);
    }
    return last;
  }

  private async runCopyStep(
    target: PlannedTarget,
    step: PlannedStep,
    context: ExpressionContext,
    sudoPassword: string | undefined,
    transport: Transport,
    done: (
      outcome: StepOutcome,
      attempt: number,
      extra?: { exitCode?: number; reason?: string; outputs?: Record<string, string> },
    ) => StepSummary & { state: StepState },
  ): Promise<StepSummary & { state: StepState }> {
    const copy = step.copy!;
    if (step.sudo && target.sudo?.enabled === false)
      return done("failed", 1, {
        reason: `step needs sudo, but target ${target.name} has sudo.enabled: false`,
      });
    this.emit({ type: "step.started", at: this.at(), target: target.name, step: step.id, attempt: 1 });
    const say = (line: string): void =>
      this.emit({
        type: "step.output",
        at: this.at(),
        target: target.name,
        step: step.id,
        stream: "stdout",
        line: this.opts.redactor.redact(line),
      });
    const named = step.secretNames ?? [];
    const secrets = Object.fromEntries(named.map((n) => [n, this.opts.secrets?.[n] ?? ""]));
    const t = context.target as Record<string, unknown>;
    const liquidContext = {
      inputs: context.inputs,
      target: t,
      vars: t.vars,
      facts: t.facts ?? {},
      steps: context.steps,
      secrets,
    };
    try {
      const dest = stringifyValue(renderTemplate(copy.dest, context));
      if (!dest.startsWith("/")) throw new Error(`copy dest must be an absolute path, not ${dest}`);
      const result = await runCopy({
        copy,
        dest,
        transport,
        readRepoFile: (path) => this.opts.readRepoFile?.(path),
        context: liquidContext,
        withSecrets: named.length > 0,
        checkMode: this.plan.checkMode,
        ...(step.sudo
          ? {
              sudo: {
                ...(target.sudo?.user ? { user: target.sudo.user } : {}),
                ...(sudoPassword !== undefined ? { password: sudoPassword } : {}),
              },
            }
          : {}),
        signal: this.abort.signal,
        ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
        say,
      });
      const outputs = { files: result.files.join(" ") };
      if (!result.changed) return done("ok", 1, { outputs });
      return done("changed", 1, {
        outputs,
        ...(this.plan.checkMode ? { reason: "would change" } : {}),
      });
    } catch (e) {
      if (this.abort.signal.aborted)
        return done(this.abortReason === "timed_out" ? "timed_out" : "cancelled", 1, {
          reason: this.abortMessage(),
        });
      return done("failed", 1, { reason: `copy: ${messageOf(e)}` });
    }
  }

  private classify(
    result: { exitCode: number | null; timedOut: boolean; cancelled: boolean },
    trailer: Trailer | undefined,
    step: PlannedStep,
    attempt: number,
    done: (
      outcome: StepOutcome,
      attempt: number,
      extra?: { exitCode?: number; reason?: string; outputs?: Record<string, string> },
    ) => StepSummary & { state: StepState },
  ): StepSummary & { state: StepState } {
    const exit = result.exitCode === null ? {} : { exitCode: result.exitCode };
    if (result.timedOut)
      return done("timed_out", attempt, {
        ...exit,
        reason: `timed out after ${step.timeoutMs} ms; the process was killed`,
      });
    if (result.cancelled || (this.abort.signal.aborted && !trailer)) {
      return this.abortReason === "timed_out"
        ? done("timed_out", attempt, { ...exit, reason: this.abortMessage() })
        : done("cancelled", attempt, { ...exit, reason: "run cancelled" });
    }
    if (!trailer) {
      return done("failed", attempt, {
        ...exit,
        reason:
          result.exitCode === null
            ? "the process was killed"
            : `the step wrapper failed (exit code ${result.exitCode})`,
      });
    }
    const outputs = parseOutputs(trailer.outputs);
    // A passed check is `ok`: the target is already in the desired state (Ansible's `ok`).
    // `skipped` stays for steps not run at all (`if:`, tags, an earlier failure).
    switch (trailer.kind) {
      case "skip":
        return done("ok", attempt, { exitCode: 0, reason: "check passed: already done" });
      case "check":
        return trailer.exitCode === 0
          ? done("ok", attempt, { exitCode: 0, reason: "check passed: already done" })
          : done("changed", attempt, {
              exitCode: trailer.exitCode,
              reason: "would change (check exited non-zero)",
            });
      case "ran":
        if (trailer.exitCode !== 0)
          return done("failed", attempt, {
            exitCode: trailer.exitCode,
            reason: `exit code ${trailer.exitCode}`,
            outputs,
          });
        return done(outputs.changed === "false" ? "ok" : "changed", attempt, { exitCode: 0, outputs });
    }
  }
}

function renderEnv(env: Record<string, string>, context: ExpressionContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    const name = stringifyValue(renderTemplate(k, context));
    out[name] = stringifyValue(renderTemplate(v, context));
  }
  return out;
}

function messageOf(e: unknown): string {
  if (isOpscError(e)) return e.hint ? `${e.message} (${e.hint})` : e.message;
  return errorText(e);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
