/**
 * `${{ }}` expressions: rejected inside scripts (values reach scripts only as
 * environment variables, so no input can inject shell code), and elsewhere
 * parsed with GitHub's parser for syntax errors, unknown contexts, and
 * `inputs.X` / `steps.X` that do not exist.
 */
import {
  checkExpressions as problemsIn,
  containsExpression,
  findExpressions,
} from "../../core/expressions.js";
import { closest } from "../closest.js";
import type { RawInputs } from "../raw-types.js";
import type { RepoIndex } from "../repo-index.js";
import type { NodePath, YamlSource } from "../yaml-source.js";

interface Scope {
  inputs: RawInputs;
  /** Step ids readable through `steps.X`; undefined where `steps` means nothing (job env). */
  steps?: ReadonlySet<string>;
}

export function checkExpressions(index: RepoIndex): void {
  for (const site of index.stepUses()) {
    const { source, path, raw } = site;
    for (const key of ["run", "check"] as const) {
      const script = raw[key];
      if (script !== undefined) inScript(index, source, [...path, key], script);
    }
    const scope: Scope = { inputs: site.inputs, steps: site.earlier };
    if (raw.if !== undefined && typeof raw.if === "string") {
      const cond = raw.if.trim();
      // `if:` is an expression with or without `${{ }}`.
      const text = containsExpression(cond) ? raw.if : `\${{ ${raw.if} }}`;
      inTemplate(index, source, [...path, "if"], text, scope, !containsExpression(cond));
    }
    if (raw.name !== undefined) inTemplate(index, source, [...path, "name"], raw.name, scope);
    deep(index, source, [...path, "with"], raw.with, scope);
    env(index, source, [...path, "env"], raw.env, scope);
  }
  for (const step of index.steps.values()) {
    for (const key of ["run", "check"] as const) {
      const script = step.raw[key];
      if (script !== undefined) inScript(index, step.source, [key], script);
    }
    env(index, step.source, ["env"], step.raw.env, { inputs: step.raw.inputs ?? {} });
  }
  for (const job of index.jobs.values()) {
    env(index, job.source, ["env"], job.raw.env, { inputs: job.raw.inputs ?? {} });
  }
}

function inScript(index: RepoIndex, source: YamlSource, path: NodePath, script: string): void {
  const at = script.indexOf("${{");
  if (at < 0) return;
  const key = path[path.length - 1];
  index.report(
    source,
    path,
    "error",
    "expr.in-script",
    `\`\${{\` inside \`${String(key)}:\`; expressions are not expanded in scripts`,
    "pass the value through `env:` (or a step input) and read it as $NAME in the script, so no value can inject shell code",
    { offset: at },
  );
}

function env(
  index: RepoIndex,
  source: YamlSource,
  path: NodePath,
  values: Record<string, unknown> | undefined,
  scope: Scope,
): void {
  for (const [name, value] of Object.entries(values ?? {})) {
    if (containsExpression(name)) inTemplate(index, source, [...path, name], name, scope, false, "key");
    if (typeof value === "string") inTemplate(index, source, [...path, name], value, scope);
  }
}

function deep(index: RepoIndex, source: YamlSource, path: NodePath, value: unknown, scope: Scope): void {
  if (typeof value === "string") inTemplate(index, source, path, value, scope);
  else if (Array.isArray(value)) value.forEach((v, i) => deep(index, source, [...path, i], v, scope));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) deep(index, source, [...path, k], v, scope);
  }
}

function inTemplate(
  index: RepoIndex,
  source: YamlSource,
  path: NodePath,
  text: string,
  scope: Scope,
  wrapped = false,
  where: "key" | "value" = "value",
): void {
  if (!containsExpression(text)) return;
  // Offsets into a condition we wrapped in `${{ }}` ourselves point 4 characters too far.
  const shift = wrapped ? 4 : 0;
  const offset = (o: number) => (where === "key" ? undefined : Math.max(0, o - shift));
  for (const problem of problemsIn(text)) {
    const unknownContext = /Unrecognized named-value/i.test(problem.message);
    const secrets = /named-value: 'secrets'/i.test(problem.message);
    index.report(
      source,
      path,
      "error",
      unknownContext ? "expr.unknown-context" : "expr.syntax",
      problem.message,
      secrets
        ? "secrets never appear in expressions: list them under the job's `secrets:` and read them as environment variables"
        : unknownContext
          ? "expressions read inputs, target, steps, run, git, env and job"
          : "expressions use the GitHub Actions syntax: `${{ inputs.name }}`, `${{ steps.id.outputs.x == 'y' }}`",
      { where, ...(offset(problem.offset) !== undefined ? { offset: offset(problem.offset) } : {}) },
    );
  }
  for (const span of findExpressions(text).spans) {
    const src = span.source;
    for (const m of src.matchAll(
      /(?<![\w.])inputs\s*\.\s*([A-Za-z_][A-Za-z0-9_-]*)|(?<![\w.])inputs\s*\[\s*'([^']*)'\s*\]/g,
    )) {
      const name = m[1] ?? m[2]!;
      if (Object.prototype.hasOwnProperty.call(scope.inputs, name)) continue;
      const guess = closest(name, Object.keys(scope.inputs));
      const known = Object.keys(scope.inputs);
      index.report(
        source,
        path,
        "error",
        "expr.unknown-input",
        `\`inputs.${name}\` is not an input here`,
        guess
          ? `did you mean \`inputs.${guess}\`?`
          : known.length
            ? `inputs here: ${known.join(", ")}`
            : "declare it under `inputs:`",
        { where, ...(offset(span.start) !== undefined ? { offset: offset(span.start) } : {}) },
      );
    }
    if (scope.steps === undefined) continue;
    for (const m of src.matchAll(/(?<![\w.])steps\s*\.\s*([a-z0-9][a-z0-9_-]*)/g)) {
      const id = m[1]!;
      if (scope.steps.has(id)) continue;
      index.report(
        source,
        path,
        "error",
        "expr.unknown-step",
        `\`steps.${id}\` does not name an earlier step`,
        scope.steps.size
          ? `earlier steps: ${[...scope.steps].join(", ")}`
          : "a step can read only steps that ran before it",
        { where, ...(offset(span.start) !== undefined ? { offset: offset(span.start) } : {}) },
      );
    }
  }
}
