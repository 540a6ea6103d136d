/**
 * Turns ajv's errors into diagnostics a person can act on: one per problem,
 * at the offending key or value, with a hint. ajv reports every branch of an
 * `anyOf`/`oneOf`; the branches that cannot be what the user meant are dropped.
 */
import type { ErrorObject } from "ajv";
import type { Diagnostic } from "../core/diagnostic.js";
import { isRecord } from "../core/is-record.js";
import { closest } from "./closest.js";
import type { NodePath, YamlSource } from "./yaml-source.js";

interface Pending {
  path: string;
  err?: ErrorObject;
  diagnostic: () => Diagnostic;
  /** A `type` mismatch at the combinator's own path: a branch that was not meant. */
  typeOnly?: string[];
}

export function schemaDiagnostics(source: YamlSource, errors: readonly ErrorObject[]): Diagnostic[] {
  const stack: Pending[] = [];
  for (const err of errors) {
    if (err.keyword === "anyOf" || err.keyword === "oneOf") {
      resolveCombinator(source, err, stack);
    } else if (err.keyword === "propertyNames") {
      resolvePropertyName(source, err, stack);
    } else if (err.keyword === "if") {
      // Its inner errors already say what is wrong.
      continue;
    } else {
      stack.push(pending(source, err));
    }
  }
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const p of stack) {
    const d = p.diagnostic();
    const key = `${d.line}:${d.col}:${d.code}:${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}

function resolveCombinator(source: YamlSource, err: ErrorObject, stack: Pending[]): void {
  const path = err.instancePath;
  let from = stack.length;
  while (from > 0 && isUnder(stack[from - 1]!.path, path)) from--;
  const branch = stack.splice(from);
  const deeper = branch.filter((p) => p.path !== path);
  const sameNonType = branch.filter((p) => p.path === path && !p.typeOnly);
  const types = branch.flatMap((p) => (p.path === path && p.typeOnly ? p.typeOnly : []));
  const isObject = isRecord(err.data);
  if (!isObject && isShapeOneOf(err)) {
    // The type error says it all; which keys are missing means nothing for a non-mapping.
    return;
  }
  if (err.keyword === "oneOf" && deeper.length === 0 && isShapeOneOf(err)) {
    stack.push({ path, diagnostic: () => shapeDiagnostic(source, err) });
    return;
  }
  if (err.keyword === "oneOf" && branch.length === 0) {
    // Valid against several branches at once.
    stack.push({ path, diagnostic: () => shapeDiagnostic(source, err) });
    return;
  }
  if (deeper.length > 0 || sameNonType.length > 0) {
    stack.push(...sameNonType, ...deeper);
    return;
  }
  const wanted = [...new Set(types)];
  stack.push({
    path,
    diagnostic: () =>
      diag(
        source,
        err,
        "schema.type",
        `${label(err.instancePath)} must be ${orList(wanted.map(article))}, not ${describe(err.data)}`,
      ),
  });
}

/** ajv reports a bad mapping key as the key schema's errors, then one `propertyNames` error naming the key. */
function resolvePropertyName(source: YamlSource, err: ErrorObject, stack: Pending[]): void {
  const name = String((err.params as { propertyName?: unknown }).propertyName);
  let inner: ErrorObject | undefined;
  while (stack.length > 0) {
    const last = stack[stack.length - 1]!;
    if (
      last.path !== err.instancePath ||
      !last.err ||
      !KEY_KEYWORDS.has(last.err.keyword) ||
      last.err.params.propertyName !== undefined
    )
      break;
    inner = last.err;
    stack.pop();
  }
  const keySchema = (inner?.parentSchema ?? {}) as { description?: unknown };
  stack.push({
    path: err.instancePath,
    diagnostic: () =>
      diag(
        source,
        err,
        "schema.property-name",
        `\`${name}\` is not a valid name in ${label(err.instancePath)}`,
        typeof keySchema.description === "string" ? keySchema.description : inner?.message,
        [...pathOf(err.instancePath), name],
        "key",
      ),
  });
}

const KEY_KEYWORDS = new Set(["pattern", "maxLength", "minLength", "format", "enum", "type", "const"]);

function isUnder(path: string, prefix: string): boolean {
  return prefix === "" || path === prefix || path.startsWith(`${prefix}/`);
}

function pending(source: YamlSource, err: ErrorObject): Pending {
  if (err.keyword === "type") {
    const t = err.params.type as string | string[];
    return {
      path: err.instancePath,
      err,
      typeOnly: Array.isArray(t) ? t : [t],
      diagnostic: () =>
        diag(
          source,
          err,
          "schema.type",
          `${label(err.instancePath)} must be ${orList((Array.isArray(t) ? t : [t]).map(article))}, not ${describe(err.data)}`,
        ),
    };
  }
  return { path: err.instancePath, err, diagnostic: () => describeError(source, err) };
}

function describeError(source: YamlSource, err: ErrorObject): Diagnostic {
  const where = label(err.instancePath);
  const params = err.params as Record<string, unknown>;
  const parent = (err.parentSchema ?? {}) as Record<string, unknown>;
  switch (err.keyword) {
    case "required": {
      const missing = String(params.missingProperty);
      return diag(
        source,
        err,
        "schema.required",
        `${where} is missing the required property \`${missing}\``,
        propertyDescription(parent, missing),
      );
    }
    case "additionalProperties": {
      const extra = String(params.additionalProperty);
      const known = Object.keys((parent.properties ?? {}) as Record<string, unknown>);
      const guess = closest(extra, known);
      return diag(
        source,
        err,
        "schema.unknown-property",
        `unknown property \`${extra}\` in ${where}`,
        guess ? `did you mean \`${guess}\`?` : known.length ? `allowed here: ${known.join(", ")}` : undefined,
        [...pathOf(err.instancePath), extra],
        "key",
      );
    }
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map((v) => String(v));
      const guess = typeof err.data === "string" ? closest(err.data, allowed) : undefined;
      return diag(
        source,
        err,
        "schema.enum",
        `${where} must be one of ${allowed.map((a) => `\`${a}\``).join(", ")}, not ${describe(err.data)}`,
        guess ? `did you mean \`${guess}\`?` : undefined,
      );
    }
    case "pattern": {
      const name = params.propertyName;
      if (typeof name === "string") {
        return diag(
          source,
          err,
          "schema.property-name",
          `\`${name}\` is not a valid name in ${where}`,
          typeof parent.description === "string"
            ? parent.description
            : `names must match ${String(params.pattern)}`,
          [...pathOf(err.instancePath), name],
          "key",
        );
      }
      return diag(
        source,
        err,
        "schema.pattern",
        `${where} has an invalid value ${describe(err.data)}`,
        typeof parent.description === "string"
          ? parent.description
          : `it must match ${String(params.pattern)}`,
      );
    }
    case "format":
      return diag(
        source,
        err,
        "schema.format",
        `${where} is not a valid ${String(params.format)}: ${describe(err.data)}`,
      );
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return diag(
        source,
        err,
        `schema.${kebab(err.keyword)}`,
        `${where} ${err.message ?? "is out of range"}, not ${describe(err.data)}`,
      );
    case "minItems":
      return diag(
        source,
        err,
        "schema.min-items",
        params.limit === 1 ? `${where} must not be empty` : `${where} ${err.message ?? ""}`,
      );
    case "maxItems":
      return diag(source, err, "schema.max-items", `${where} ${err.message ?? ""}`);
    case "minLength":
      return diag(
        source,
        err,
        "schema.min-length",
        params.limit === 1 ? `${where} must not be empty` : `${where} ${err.message ?? ""}`,
      );
    case "maxLength":
      return diag(source, err, "schema.max-length", `${where} ${err.message ?? ""}`);
    case "uniqueItems":
      return diag(
        source,
        err,
        "schema.unique-items",
        `${where} lists the same item twice (items ${String(params.j)} and ${String(params.i)})`,
      );
    case "not":
      return diag(source, err, "schema.not", `${where} has a combination of properties that is not allowed`);
    default:
      return diag(source, err, `schema.${kebab(err.keyword)}`, `${where} ${err.message ?? "is invalid"}`);
  }
}

function isShapeOneOf(err: ErrorObject): boolean {
  const parent = err.parentSchema as { properties?: Record<string, unknown> } | undefined;
  const props = parent?.properties ?? {};
  return "uses" in props || "phases" in props || ("steps" in props && "run" in props);
}

/** The library step, job step and job each have alternative shapes; say which keys clash. */
function shapeDiagnostic(source: YamlSource, err: ErrorObject): Diagnostic {
  const data = (err.data ?? {}) as Record<string, unknown>;
  const has = (k: string) => Object.prototype.hasOwnProperty.call(data, k);
  const props = (err.parentSchema as { properties?: Record<string, unknown> }).properties ?? {};
  let message: string;
  let hint: string | undefined;
  if ("uses" in props) {
    if (has("uses") && has("run")) {
      message = "a step either `uses` a library step or has a `run` script, not both";
    } else if (!has("uses") && !has("run")) {
      message = "a step needs `uses` (a library step) or `run` (a script)";
    } else if (has("uses")) {
      const extra = ["check", "shell"].filter(has);
      message = `\`${extra.join("` and `") || "check"}\` belong${extra.length === 1 ? "s" : ""} to \`run\` steps, not to a step that \`uses\` a library step`;
      hint = "set them in the library step itself";
    } else {
      message = "`with` gives inputs to a library step (`uses`); a `run` script reads values from `env`";
      hint = "move the values to `env:` and read them as $NAME in the script";
    }
  } else if ("phases" in props) {
    message =
      has("steps") && has("phases")
        ? "a job has either `steps` or `phases`, not both"
        : "a job needs `steps` (or `phases`)";
    hint = "use `steps:` for a single phase, `phases:` to run several in order";
  } else {
    if (has("run") && has("steps"))
      message = "a library step has either `run` (a script) or `steps` (a composite), not both";
    else if (has("steps")) message = "`check` goes with `run`; a composite step (`steps`) has no check";
    else message = "a library step needs `run` (a script) or `steps` (a composite)";
  }
  return diag(source, err, "schema.shape", message, hint);
}

function diag(
  source: YamlSource,
  err: ErrorObject,
  code: string,
  message: string,
  hint?: string,
  path: NodePath = pathOf(err.instancePath),
  where: "key" | "value" = "value",
): Diagnostic {
  const at = source.position(path, where);
  return {
    file: source.file,
    line: at.line,
    col: at.col,
    severity: "error",
    code,
    message,
    ...(hint ? { hint } : {}),
  };
}

function propertyDescription(parent: Record<string, unknown>, name: string): string | undefined {
  const prop = (parent.properties as Record<string, { description?: string }> | undefined)?.[name];
  return prop?.description;
}

export function pathOf(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function label(pointer: string): string {
  const parts = pathOf(pointer);
  if (parts.length === 0) return "the file";
  return `\`${parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join("")}\``;
}

function describe(v: unknown): string {
  if (v === null) return "empty";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return v.length > 60 ? `"${v.slice(0, 57)}..."` : JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}

function article(t: string): string {
  switch (t) {
    case "object":
      return "a mapping";
    case "array":
      return "a list";
    case "integer":
      return "an integer";
    case "null":
      return "empty";
    default:
      return `a ${t}`;
  }
}

function orList(items: string[]): string {
  if (items.length <= 1) return items[0] ?? "something else";
  return `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
