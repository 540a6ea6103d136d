/**
 * Inputs are JSON Schemas (DESIGN.md 1): each must be a valid schema, its
 * default must satisfy it, and literal `with:` values must satisfy the library
 * step's inputs, so a wrong input fails review instead of the run. Values that
 * hold `${{ }}` are known only at plan time and are skipped here.
 */
import type { ErrorObject } from "ajv";
import { inputEnvName, inputValidator } from "../../core/input-schema.js";
import { containsExpression } from "../../core/expressions.js";
import { closest } from "../closest.js";
import type { RawInputs } from "../raw-types.js";
import type { RepoIndex } from "../repo-index.js";
import { pathOf } from "../schema-diagnostics.js";
import type { NodePath, YamlSource } from "../yaml-source.js";

export function checkInputs(index: RepoIndex): void {
  for (const step of index.steps.values()) declared(index, step.source, ["inputs"], step.raw.inputs);
  for (const job of index.jobs.values()) declared(index, job.source, ["inputs"], job.raw.inputs);
  for (const site of index.stepUses()) {
    // Only a fully valid library step's inputs can be trusted to check `with:` against.
    if (site.raw.uses === undefined || !index.stepIsValid(site.raw.uses)) continue;
    const target = index.steps.get(site.raw.uses);
    if (!target) continue;
    const inputs = target.raw.inputs ?? {};
    const given = site.raw.with ?? {};
    for (const [name, value] of Object.entries(given)) {
      const schema = inputs[name];
      if (!schema) {
        const guess = closest(name, Object.keys(inputs));
        index.report(
          site.source,
          [...site.path, "with", name],
          "error",
          "input.unknown",
          `library step "${site.raw.uses}" has no input \`${name}\``,
          guess
            ? `did you mean \`${guess}\`?`
            : Object.keys(inputs).length
              ? `its inputs: ${Object.keys(inputs).join(", ")}`
              : "it takes no inputs",
          { where: "key" },
        );
        continue;
      }
      const fn = inputValidator(schema);
      if (typeof fn === "string") continue; // reported at the declaration
      if (fn(value)) continue;
      for (const err of relevant(fn.errors ?? [], value)) {
        const path = [...site.path, "with", name, ...pathOf(err.instancePath)];
        index.report(
          site.source,
          path,
          "error",
          "input.invalid-value",
          `input \`${name}\`${err.instancePath ? ` (at ${err.instancePath.slice(1)})` : ""} ${err.message ?? "is invalid"}`,
          describeSchema(schema, target.source.file, name),
        );
      }
    }
    for (const [name, schema] of Object.entries(inputs)) {
      if (Object.prototype.hasOwnProperty.call(given, name) || "default" in schema) continue;
      index.report(
        site.source,
        site.raw.with ? [...site.path, "with"] : [...site.path, "uses"],
        "error",
        "input.missing",
        `library step "${site.raw.uses}" needs input \`${name}\``,
        `add \`${name}:\` under \`with:\`${describeSchema(schema, undefined, name) ? ` (${describeSchema(schema, undefined, name)})` : ""}`,
        { where: site.raw.with ? "key" : "value" },
      );
    }
  }
}

function declared(index: RepoIndex, source: YamlSource, path: NodePath, inputs: RawInputs | undefined): void {
  const byEnv = new Map<string, string>();
  for (const [name, schema] of Object.entries(inputs ?? {})) {
    // `inputs.toString` would read the object's own machinery, not an input.
    if (name in Object.prototype) {
      index.report(
        source,
        [...path, name],
        "error",
        "input.reserved-name",
        `input \`${name}\` has a name that expressions cannot read as an input`,
        "rename it, e.g. with a prefix or suffix",
        { where: "key" },
      );
    }
    // Expressions read names case-insensitively, and scripts read INPUT_<NAME>: one name must not hide another.
    const env = inputEnvName(name);
    const other = byEnv.get(env);
    if (other !== undefined) {
      index.report(
        source,
        [...path, name],
        "error",
        "input.name-collision",
        `inputs \`${other}\` and \`${name}\` both reach scripts as ${env} (and expressions ignore case)`,
        "rename one of them",
        { where: "key" },
      );
    } else byEnv.set(env, name);
    const fn = inputValidator(schema);
    if (typeof fn === "string") {
      index.report(
        source,
        [...path, name],
        "error",
        "input.schema-invalid",
        `input \`${name}\` is not a valid JSON Schema: ${fn}`,
        "inputs are JSON Schema (draft 2020-12), e.g. `{ type: string, default: nginx }`",
      );
      continue;
    }
    if (!("default" in schema)) continue;
    const value = schema.default;
    // A default may be an expression evaluated at plan time.
    if (typeof value === "string" && containsExpression(value)) continue;
    if (fn(value)) continue;
    const first = fn.errors?.[0];
    index.report(
      source,
      [...path, name, "default", ...pathOf(first?.instancePath ?? "")],
      "error",
      "input.default-invalid",
      `the default of input \`${name}\` breaks its own schema: ${first?.instancePath ? `${first.instancePath.slice(1)} ` : ""}${first?.message ?? "invalid"}`,
      "fix the default or the schema",
    );
  }
}

/**
 * Errors that literal values cause. An error at or inside a string holding
 * `${{ }}`, or at a container whose items hold expressions and whose keyword
 * depends on them, is left for the planner, which sees the rendered value.
 */
function relevant(errors: readonly ErrorObject[], value: unknown): ErrorObject[] {
  return errors.filter((err) => {
    const at = valueAt(value, pathOf(err.instancePath));
    if (typeof at === "string" && containsExpression(at)) return false;
    if (
      hasExpression(at) &&
      ![
        "minItems",
        "maxItems",
        "required",
        "additionalProperties",
        "minProperties",
        "maxProperties",
      ].includes(err.keyword)
    ) {
      return false;
    }
    return true;
  });
}

function valueAt(value: unknown, path: string[]): unknown {
  let v = value;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}

function hasExpression(value: unknown): boolean {
  if (typeof value === "string") return containsExpression(value);
  if (Array.isArray(value)) return value.some(hasExpression);
  if (value !== null && typeof value === "object") return Object.values(value).some(hasExpression);
  return false;
}

/** The input's schema in a few words, after the file that declares it (a library's file names its commit). */
function describeSchema(
  schema: Record<string, unknown>,
  file: string | undefined,
  name: string,
): string | undefined {
  const parts: string[] = [];
  if (typeof schema.type === "string") parts.push(`type ${schema.type}`);
  if (Array.isArray(schema.enum))
    parts.push(`one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`);
  if (typeof schema.pattern === "string") parts.push(`matching ${schema.pattern}`);
  if (typeof schema.description === "string") parts.push(schema.description);
  if (parts.length === 0) return file ? `see ${file}, input ${name}` : undefined;
  return `${file ? `${file}: ` : ""}\`${name}\` is ${parts.join("; ")}`;
}
