/**
 * The planner: from a loaded repository, a job and a trigger to the exact work.
 * Pure: no I/O, no secrets, no connections. `opsc plan` prints its result and
 * the engine executes it, so what a reviewer sees is what runs.
 */
import type { Diagnostic } from "../core/diagnostic.js";
import { renderDeep, stringifyValue, findExpressions } from "../core/expressions.js";
import { coerceInput, inputProblems } from "../core/input-schema.js";
import type {
  Plan,
  PlannedCopy,
  PlannedPhase,
  PlannedStep,
  PlannedTarget,
  StepSelection,
  Trigger,
} from "../core/plan-model.js";
import type { JobDef, RepoModel, StepUse, Strategy } from "../core/repo-model.js";
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

/** Contexts whose values exist only while running, per target. */
const RUNTIME_CONTEXT = /(?:^|[^\w.'])(target|steps|env|run)\s*[.[]/;

/** Composite steps nest; validation rejects cycles, this bounds depth regardless. */
const MAX_DEPTH = 16;

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
  const at = (code: string, message: string, hint?: string): void => {
    diagnostics.push({ ...job.source, severity: "error", code, message, ...(hint ? { hint } : {}) });
  };

  const inputs = resolveInputs(job, request, at);
  const staticContext = {
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
      flattenStep(model, use, "", staticContext, steps, at, 0);
    }
    const handlers: PlannedStep[] = [];
    for (const use of job.handlers ?? []) {
      const first = handlers.length;
      flattenStep(model, use, "handler/", staticContext, handlers, at, 0);
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
    ...(request.ref ? { ref: request.ref } : {}),
    trigger: request.trigger,
    inputs,
    targets,
    phases,
    env: renderStatic(job.env, staticContext) as Record<string, string>,
    secrets: { ...job.secrets },
    ...(job.timeoutMs !== undefined ? { timeoutMs: job.timeoutMs } : {}),
    ...(job.concurrency ? { concurrency: job.concurrency } : {}),
    checkMode: request.checkMode ?? false,
    facts: job.facts ?? false,
    ...(selection && (selection.tags.length || selection.skipTags.length || selection.startAt)
      ? { selection }
      : {}),
    ...(request.shard ? { shard: request.shard } : {}),
  };
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

/** Renders templates that read only plan-time contexts; keeps the others for the engine. */
function renderStatic(value: unknown, context: Record<string, unknown>): unknown {
  if (typeof value === "string") {
    const { spans } = findExpressions(value);
    if (spans.length === 0 || spans.some((s) => RUNTIME_CONTEXT.test(stripStrings(s.source)))) return value;
    return renderDeep(value, context);
  }
  if (Array.isArray(value)) return value.map((v) => renderStatic(v, context));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderStatic(v, context)]));
  }
  return value;
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

function stripStrings(source: string): string {
  return source.replace(/'(?:[^']|'')*'/g, "''");
}

/** INPUT_<NAME>: upper case, anything outside [A-Z0-9_] becomes `_`, as GitHub Actions does. */
export function inputEnvName(name: string): string {
  return `INPUT_${name.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
}

/** How an input value reaches a script: lists space-separated (`apt-get install $INPUT_PACKAGES`), maps as JSON. */
function inputEnvValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(stringifyValue).join(" ");
  return stringifyValue(value);
}

function flattenStep(
  model: RepoModel,
  use: StepUse,
  prefix: string,
  context: Record<string, unknown>,
  out: PlannedStep[],
  at: (code: string, message: string, hint?: string) => void,
  depth: number,
): void {
  const id = prefix + use.id;
  const env = renderStatic(use.env, context) as Record<string, string>;
  const common = {
    ...(use.if !== undefined ? { if: use.if } : {}),
    ...(use.retry ? { retry: use.retry } : {}),
    continueOnError: use.continueOnError,
    tags: [...(use.tags ?? [])],
    notify: [...(use.notify ?? [])],
  };
  if (use.copy) {
    const copy = plannedCopy(model, use.copy, context);
    if (!copy) {
      at(
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
  if (!lib || depth >= MAX_DEPTH) {
    at("plan.unknown-step", `step "${id}" uses "${use.uses}", which cannot be resolved`, "run opsc validate");
    return;
  }
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(lib.inputs)) {
    const given = use.with[name];
    const value = given === undefined ? schema.default : renderStatic(given, context);
    if (value !== undefined) values[name] = value;
  }
  const inputEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) inputEnv[inputEnvName(name)] = inputEnvValue(value);

  if (lib.steps) {
    // A composite's children see the composite's inputs as `inputs`, like a GitHub composite action.
    const childContext = { ...context, inputs: values };
    const first = out.length;
    for (const child of lib.steps) flattenStep(model, child, `${id}/`, childContext, out, at, depth + 1);
    const libEnv = renderStatic(lib.env, childContext) as Record<string, string>;
    for (const step of out.slice(first)) {
      step.env = { ...inputEnv, ...libEnv, ...env, ...step.env };
      if (use.if !== undefined) step.if = step.if ? `(${unwrap(use.if)}) && (${unwrap(step.if)})` : use.if;
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
    env: { ...(renderStatic(lib.env, context) as Record<string, string>), ...env, ...inputEnv },
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
  context: Record<string, unknown>,
): PlannedCopy | undefined {
  const files = copyFiles(model.files ?? new Set(), spec.src);
  if (files.length === 0) return undefined;
  return { ...spec, dest: renderStatic(spec.dest, context) as string, files };
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
