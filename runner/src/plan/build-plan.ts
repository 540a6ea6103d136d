/**
 * The planner: from a loaded repository, a job and a trigger to the exact work.
 * Pure: no I/O, no secrets, no connections. `opsc plan` prints its result and
 * the engine executes it, so what a reviewer sees is what runs.
 */
import type { Diagnostic } from "../core/diagnostic.js";
import { findExpressions, quoteLiteral } from "../core/expressions.js";
import { coerceInput, inputEnvName, inputEnvText, inputProblems } from "../core/input-schema.js";
import type {
  DirtyTree,
  Plan,
  PlannedCopy,
  PlannedPhase,
  PlannedStep,
  PlannedTarget,
  RuntimeInput,
  StepSelection,
  Trigger,
} from "../core/plan-model.js";
import type { SourcePosition } from "../core/errors.js";
import { computePlanHash } from "../core/plan-hash.js";
import {
  MAX_STEP_DEPTH,
  type JobDef,
  type RepoModel,
  type StepUse,
  type Strategy,
} from "../core/repo-model.js";
import {
  BindError,
  bindCondition,
  bindDeep,
  bindTemplate,
  containsDeferred,
  envTemplate,
  runtimeValue,
  type BindScope,
} from "./bind-template.js";
import { planTarget } from "./plan-target.js";
import { selectSteps } from "./select-steps.js";
import { selectTargets, type TargetFilter } from "./select-targets.js";
import { targetVars } from "./target-vars.js";

export interface PlanRequest {
  job: string;
  /** Values by input name. Strings are coerced to the input's type when `fromText` is set. */
  inputs?: Record<string, unknown>;
  /** Inputs came from a command line or query string. */
  fromText?: boolean;
  trigger: Trigger;
  commit?: string;
  /** The working tree the repository was read from differs from its HEAD. */
  dirtyTree?: DirtyTree;
  ref?: string;
  filter?: TargetFilter;
  checkMode?: boolean;
  shard?: { index: number; count: number };
  /** `--tags`, `--skip-tags`, `--start-at`. */
  selection?: StepSelection;
}

export interface PlanResult {
  plan?: Plan;
  diagnostics: Diagnostic[];
}

export function buildPlan(model: RepoModel, request: PlanRequest): PlanResult {
  const diagnostics: Diagnostic[] = [];
  const job = model.jobs.get(request.job);
  if (!job) {
    const known = [...model.jobs.keys()].sort();
    diagnostics.push({
      file: "jobs",
      line: 1,
      col: 1,
      severity: "error",
      code: "plan.unknown-job",
      message: `there is no job "${request.job}"`,
      hint: known.length ? `jobs in this repository: ${known.join(", ")}` : "add a job under jobs/",
    });
    return { diagnostics };
  }
  const atSite: Report = (source, code, message, hint) => {
    diagnostics.push({ ...source, severity: "error", code, message, ...(hint ? { hint } : {}) });
  };
  const at = (code: string, message: string, hint?: string): void => atSite(job.source, code, message, hint);

  const inputs = resolveInputs(job, request, at);
  // A job input already reported would only be reported again through the step inputs it feeds.
  const inputsOk = diagnostics.length === 0;
  const stepReport: Report = (source, code, message, hint) => {
    if (inputsOk || code !== "plan.invalid-step-input") atSite(source, code, message, hint);
  };
  const scope: BindScope = {
    inputs,
    git: { sha: request.commit ?? "", ref: request.ref ?? "" },
    job: { id: job.id },
  };

  const targets: Record<string, PlannedTarget> = {};
  const phases: PlannedPhase[] = [];
  const sharded = request.shard ? shardOf(model, job, request) : null;
  for (const phase of job.phases) {
    let selected = selectTargets(model.targets.values(), phase.targets, request.filter);
    if (sharded) selected = selected.filter((t) => sharded.has(t.id));
    for (const t of selected) {
      if (targets[t.id]) continue;
      const planned = planTarget(model, t, (hop) =>
        at(
          "plan.bad-jump",
          `target "${t.id}" jumps through "${hop}", which cannot be resolved`,
          "run opsc validate",
        ),
      );
      const merged = targetVars(model, t, job);
      targets[t.id] = { ...planned, vars: merged.vars, varsFrom: merged.from };
    }
    const names = selected.map((t) => t.id);
    const steps: PlannedStep[] = [];
    for (const use of phase.steps) {
      try {
        flattenStep(model, use, { prefix: "", scope, composite: false, depth: 0 }, steps, stepReport);
      } catch (e) {
        if (!(e instanceof BindError)) throw e;
        atSite(use.source, "plan.bad-expression", `step "${use.id}": ${e.message}`, "run opsc validate");
      }
    }
    const handlers: PlannedStep[] = [];
    for (const use of job.handlers ?? []) {
      const first = handlers.length;
      try {
        flattenStep(
          model,
          use,
          { prefix: "handler/", scope, composite: false, depth: 0 },
          handlers,
          stepReport,
        );
      } catch (e) {
        if (!(e instanceof BindError)) throw e;
        atSite(use.source, "plan.bad-expression", `handler "${use.id}": ${e.message}`, "run opsc validate");
      }
      for (const h of handlers.slice(first)) h.handler = use.id;
    }
    phases.push({
      name: phase.name,
      targets: names,
      batches: batchesOf(names, phase.strategy),
      parallel: Math.max(1, phase.strategy.parallel),
      maxFailures: phase.strategy.maxFailures,
      steps,
      handlers,
    });
  }
  const selection = request.selection;
  if (selection && (selection.tags.length || selection.skipTags.length || selection.startAt)) {
    const problem = selectSteps(phases, selection);
    if (problem) at(problem.code, problem.message, problem.hint);
  }
  if (Object.keys(targets).length === 0 && !request.shard) {
    at(
      "plan.no-targets",
      `job "${job.id}" selects no target`,
      "check the job's `targets:` and any --target or --match",
    );
  }
  if (diagnostics.some((d) => d.severity === "error")) return { diagnostics };

  const plan: Plan = {
    job: job.id,
    ...(job.description ? { description: job.description } : {}),
    ...(request.commit ? { commit: request.commit } : {}),
    ...(request.dirtyTree ? { dirtyTree: request.dirtyTree } : {}),
    ...(request.ref ? { ref: request.ref } : {}),
    trigger: request.trigger,
    inputs,
    targets,
    phases,
    env: envOf(job.env, scope, (e) => at("plan.bad-expression", `job env: ${e}`)),
    secrets: { ...job.secrets },
    ...(job.timeoutMs !== undefined ? { timeoutMs: job.timeoutMs } : {}),
    ...(job.concurrency ? { concurrency: job.concurrency } : {}),
    ...(job.locks ? { locks: job.locks } : {}),
    checkMode: request.checkMode ?? false,
    facts: job.facts ?? false,
    ...(selection && (selection.tags.length || selection.skipTags.length || selection.startAt)
      ? { selection }
      : {}),
    ...(request.shard ? { shard: request.shard } : {}),
    ...(job.approval ? { approval: { ...job.approval } } : {}),
  };
  plan.planHash = computePlanHash(plan);
  return { plan, diagnostics };
}

function resolveInputs(
  job: JobDef,
  request: PlanRequest,
  at: (code: string, message: string, hint?: string) => void,
): Record<string, unknown> {
  const given = request.inputs ?? {};
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(given)) {
    if (!(name in job.inputs)) {
      const known = Object.keys(job.inputs);
      at(
        "plan.unknown-input",
        `job "${job.id}" has no input "${name}"`,
        known.length ? `its inputs: ${known.join(", ")}` : "this job takes no inputs",
      );
    }
  }
  for (const [name, schema] of Object.entries(job.inputs)) {
    let value: unknown = given[name];
    if (value === undefined) value = schema.default;
    else if (request.fromText && typeof value === "string") value = coerceInput(schema, value);
    if (value === undefined) {
      at("plan.missing-input", `job "${job.id}" needs input "${name}"`, `pass it with --input ${name}=VALUE`);
      continue;
    }
    const problems = inputProblems(schema, value);
    if (problems.length > 0) {
      at("plan.invalid-input", `input "${name}": ${problems.join("; ")}`, describeSchema(schema));
      continue;
    }
    out[name] = value;
  }
  return out;
}

function describeSchema(schema: Record<string, unknown>): string {
  const parts: string[] = [];
  if (schema.type) parts.push(`type ${String(schema.type)}`);
  if (schema.pattern) parts.push(`pattern ${String(schema.pattern)}`);
  if (Array.isArray(schema.enum)) parts.push(`one of ${schema.enum.map(String).join(", ")}`);
  return parts.length ? `expected ${parts.join(", ")}` : "see the job's inputs";
}

type Report = (source: SourcePosition, code: string, message: string, hint?: string) => void;

/** An env map bound once: data quoted, run-time expressions left for the engine. */
function envOf(
  env: Record<string, string>,
  scope: BindScope,
  onError?: (message: string) => void,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    try {
      out[k] = envTemplate(bindTemplate(v, scope));
    } catch (e) {
      if (!(e instanceof BindError) || !onError) throw e;
      onError(e.message);
    }
  }
  return out;
}

/** `${{ x }}` -> `x`, so two conditions can be joined into one expression. */
function unwrap(condition: string): string {
  const trimmed = condition.trim();
  const { spans } = findExpressions(trimmed);
  const only = spans[0];
  return spans.length === 1 && only && only.start === 0 && only.end === trimmed.length
    ? only.source
    : trimmed;
}

interface Where {
  /** Id prefix: `<composite>/` for a composite's children. */
  prefix: string;
  /** What templates read; `inputs` are the job's, or the enclosing composite's. */
  scope: BindScope;
  /** Inside a composite: its `if:`s must not read the job's `inputs` at run time. */
  composite: boolean;
  depth: number;
}

function flattenStep(model: RepoModel, use: StepUse, where: Where, out: PlannedStep[], report: Report): void {
  const { scope } = where;
  const id = where.prefix + use.id;
  const env = envOf(use.env, scope);
  const condition =
    use.if === undefined ? undefined : where.composite ? bindCondition(use.if, scope.inputs) : use.if;
  const common = {
    ...(condition !== undefined ? { if: condition } : {}),
    ...(use.retry ? { retry: use.retry } : {}),
    continueOnError: use.continueOnError,
    tags: [...(use.tags ?? [])],
    notify: [...(use.notify ?? [])],
  };
  if (use.copy) {
    const copy = plannedCopy(model, use.copy, scope);
    if (!copy) {
      report(
        use.source,
        "plan.missing-src",
        `step "${id}" copies ${use.copy.src}, which is not in the repository`,
        "run opsc validate",
      );
      return;
    }
    out.push({
      id,
      name: use.name ?? use.id,
      copy,
      ...(use.secrets?.length ? { secretNames: [...use.secrets] } : {}),
      env,
      sudo: use.sudo ?? false,
      ...(use.timeoutMs !== undefined ? { timeoutMs: use.timeoutMs } : {}),
      ...common,
    });
    return;
  }
  if (!use.uses) {
    out.push({
      id,
      name: use.name ?? use.id,
      ...(use.run !== undefined ? { run: use.run } : {}),
      ...(use.check !== undefined ? { check: use.check } : {}),
      env,
      sudo: use.sudo ?? false,
      ...(use.shell ? { shell: use.shell } : {}),
      ...(use.timeoutMs !== undefined ? { timeoutMs: use.timeoutMs } : {}),
      ...common,
    });
    return;
  }
  const lib = model.steps.get(use.uses);
  if (!lib || where.depth >= MAX_STEP_DEPTH) {
    report(
      use.source,
      "plan.unknown-step",
      `step "${id}" uses "${use.uses}", which cannot be resolved` +
        (lib ? ` (composite steps nest deeper than ${MAX_STEP_DEPTH})` : ""),
      "run opsc validate",
    );
    return;
  }
  // Each input is bound once; a value known now is checked now, one that reads
  // run-time contexts is checked by the engine on each target before the step starts.
  const values: Record<string, unknown> = {};
  const inputEnv: Record<string, string> = {};
  const runtimeInputs: RuntimeInput[] = [];
  for (const [name, schema] of Object.entries(lib.inputs)) {
    const given = use.with[name];
    // A default is written in the repository like `with:`, so its expressions are bound the same way.
    const value = bindDeep(given === undefined ? schema.default : given, scope);
    if (value === undefined) continue;
    values[name] = value;
    if (containsDeferred(value)) {
      runtimeInputs.push({ input: name, env: inputEnvName(name), schema, value: runtimeValue(value) });
      continue;
    }
    const problems = inputProblems(schema, value);
    if (problems.length > 0) {
      report(
        use.source,
        "plan.invalid-step-input",
        `step "${id}": input "${name}" of "${lib.id}" is ${JSON.stringify(value)}: ${problems.join("; ")}`,
        describeSchema(schema),
      );
      continue;
    }
    inputEnv[inputEnvName(name)] = quoteLiteral(inputEnvText(value));
  }
  // A library step's own env reads its own inputs, as validation checks it.
  const libScope: BindScope = { ...scope, inputs: values };
  const libEnv = envOf(lib.env, libScope);

  if (lib.steps) {
    // A composite's children see the composite's inputs as `inputs`, like a GitHub composite action.
    const first = out.length;
    const inner: Where = { prefix: `${id}/`, scope: libScope, composite: true, depth: where.depth + 1 };
    for (const child of lib.steps) flattenStep(model, child, inner, out, report);
    for (const step of out.slice(first)) {
      step.env = { ...inputEnv, ...libEnv, ...env, ...step.env };
      // Names the child already sets win, as they do for inputs known now.
      const taken = new Set([...Object.keys(step.env), ...(step.runtimeInputs ?? []).map((r) => r.env)]);
      const inherited = runtimeInputs.filter((r) => !taken.has(r.env));
      if (inherited.length > 0) step.runtimeInputs = [...inherited, ...(step.runtimeInputs ?? [])];
      if (condition !== undefined)
        step.if = step.if ? `(${unwrap(condition)}) && (${unwrap(step.if)})` : condition;
      if (use.continueOnError) step.continueOnError = true;
      step.tags = [...new Set([...(use.tags ?? []), ...(step.tags ?? [])])];
      step.notify = [...new Set([...(use.notify ?? []), ...(step.notify ?? [])])];
    }
    return;
  }
  out.push({
    id,
    name: use.name ?? use.id,
    uses: use.uses,
    ...(lib.run !== undefined ? { run: lib.run } : {}),
    ...(lib.check !== undefined ? { check: lib.check } : {}),
    env: { ...libEnv, ...env, ...inputEnv },
    ...(runtimeInputs.length > 0 ? { runtimeInputs } : {}),
    sudo: use.sudo ?? lib.sudo ?? false,
    ...((use.shell ?? lib.shell) ? { shell: use.shell ?? lib.shell } : {}),
    ...((use.timeoutMs ?? lib.timeoutMs) !== undefined ? { timeoutMs: use.timeoutMs ?? lib.timeoutMs } : {}),
    ...common,
  });
}

/** The files a copy step puts on targets: `src` itself, or every file below the folder `src`. */
function plannedCopy(
  model: RepoModel,
  spec: NonNullable<StepUse["copy"]>,
  scope: BindScope,
): PlannedCopy | undefined {
  const files = copyFiles(model.files ?? new Set(), spec.src);
  if (files.length === 0) return undefined;
  // Bound once like env: inputs become quoted data; target and steps expressions are the engine's.
  return { ...spec, dest: envTemplate(bindTemplate(spec.dest, scope)), files };
}

export function copyFiles(paths: ReadonlySet<string>, src: string): Array<{ src: string; rel: string }> {
  if (paths.has(src)) return [{ src, rel: "" }];
  const prefix = `${src}/`;
  return [...paths]
    .filter((p) => p.startsWith(prefix))
    .sort()
    .map((p) => ({ src: p, rel: p.slice(prefix.length) }));
}

/** Rolling batches: a count, or a percentage of the phase's targets (at least one). */
export function batchesOf(names: string[], strategy: Strategy): string[][] {
  if (names.length === 0) return [];
  let size = names.length;
  if (typeof strategy.batch === "number") size = strategy.batch;
  else if (typeof strategy.batch === "string" && strategy.batch.endsWith("%")) {
    size = Math.ceil((names.length * Number(strategy.batch.slice(0, -1))) / 100);
  }
  size = Math.max(1, Math.min(names.length, Math.floor(size)));
  const out: string[][] = [];
  for (let i = 0; i < names.length; i += size) out.push(names.slice(i, i + size));
  return out;
}

/**
 * The targets of shard K of N: every target the job selects in any phase,
 * sorted by name and dealt round-robin, so shards are balanced and every
 * target lands in exactly one shard whatever the phase layout.
 */
function shardOf(model: RepoModel, job: JobDef, request: PlanRequest): Set<string> {
  const all = new Set<string>();
  for (const phase of job.phases) {
    for (const t of selectTargets(model.targets.values(), phase.targets, request.filter)) all.add(t.id);
  }
  const { index, count } = request.shard!;
  return new Set([...all].sort().filter((_, i) => i % count === index - 1));
}
