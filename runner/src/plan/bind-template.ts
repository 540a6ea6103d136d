/**
 * Plan-time evaluation of templates, once. An expression that reads only what
 * the plan knows (`inputs`, `git`, `job`) is evaluated here and its result is
 * data from then on. An expression that reads run-time contexts (`target`,
 * `steps`, `env`, `run`) is left for the engine, with every `inputs.X` it reads
 * replaced by the value itself (a literal, or the run-time expression a
 * composite step was given), so the engine evaluates it exactly once and never
 * needs to know which composite's `inputs` it meant.
 */
import { errorText } from "../core/error-text.js";
import { TokenType } from "@actions/expressions/lexer";
import {
  evaluateExpression,
  expressionTokens,
  findExpressions,
  literalExpression,
  quoteLiteral,
  stringLiteral,
  stringifyValue,
} from "../core/expressions.js";

/** A value that reads run-time contexts. `template` reads no `inputs`. */
export class Deferred {
  constructor(readonly template: string) {}
  toJSON(): string {
    return this.template;
  }
}

/** What a template may read at plan time. `inputs` values are data or hold Deferred. */
export interface BindScope {
  inputs: Record<string, unknown>;
  git: { sha: string; ref: string };
  job: { id: string };
}

/** A plan-time mistake in an expression: reported as a plan diagnostic, not thrown at users. */
export class BindError extends Error {}

const RUNTIME_CONTEXTS = new Set(["target", "steps", "env", "run"]);

export function containsDeferred(value: unknown): boolean {
  if (value instanceof Deferred) return true;
  if (Array.isArray(value)) return value.some(containsDeferred);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsDeferred);
  return false;
}

/** Looks an input up as GitHub does: names are case-insensitive. */
function inputNamed(inputs: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(inputs, name)) return inputs[name];
  const key = Object.keys(inputs).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? null : inputs[key];
}

/** The expression a composite's child reads for one of its inputs. */
function expressionOf(value: unknown): string {
  if (!containsDeferred(value)) return literalExpression(value);
  if (!(value instanceof Deferred)) {
    throw new BindError(
      "a list or map that holds run-time expressions cannot be read through `inputs`; pass one expression instead",
    );
  }
  const text = value.template;
  const { spans } = findExpressions(text);
  const only = spans[0];
  if (spans.length === 1 && only && only.start === 0 && only.end === text.length) return `(${only.source})`;
  let format = "";
  let at = 0;
  const args: string[] = [];
  for (const span of spans) {
    format += text.slice(at, span.start).replace(/[{}]/g, (c) => c + c) + `{${args.length}}`;
    args.push(`(${span.source})`);
    at = span.end;
  }
  format += text.slice(at).replace(/[{}]/g, (c) => c + c);
  return `format(${[stringLiteral(format), ...args].join(", ")})`;
}

/**
 * One expression (without `${{ }}`) with its `inputs` reads replaced by values.
 * `runtime` says whether what is left still reads a run-time context.
 */
export function bindExpression(
  source: string,
  inputs: Record<string, unknown>,
): { source: string; runtime: boolean } {
  const tokens = expressionTokens(source);
  let out = "";
  let at = 0;
  let runtime = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const namedValue =
      t.type === TokenType.IDENTIFIER &&
      tokens[i - 1]?.type !== TokenType.DOT &&
      tokens[i + 1]?.type !== TokenType.LEFT_PAREN;
    if (!namedValue) continue;
    const name = t.lexeme.toLowerCase();
    if (RUNTIME_CONTEXTS.has(name)) runtime = true;
    if (name !== "inputs") continue;
    const [a, b, c] = [tokens[i + 1], tokens[i + 2], tokens[i + 3]];
    let key: string | undefined;
    let last = i;
    if (a?.type === TokenType.DOT && b?.type === TokenType.IDENTIFIER) {
      key = b.lexeme;
      last = i + 2;
    } else if (
      a?.type === TokenType.LEFT_BRACKET &&
      b?.type === TokenType.STRING &&
      c?.type === TokenType.RIGHT_BRACKET
    ) {
      key = String(b.value);
      last = i + 3;
    }
    const value = key === undefined ? inputs : inputNamed(inputs, key);
    if (containsDeferred(value)) runtime = true;
    out += source.slice(at, t.start) + expressionOf(value);
    at = tokens[last]!.end;
    i = last;
  }
  return { source: out + source.slice(at), runtime };
}

/**
 * A template evaluated as far as the plan can: data (a string, or the typed
 * value of a template that is exactly one expression), or Deferred.
 */
export function bindTemplate(text: string, scope: BindScope): unknown {
  const { spans, problems } = findExpressions(text);
  if (problems.length > 0) throw new BindError(problems[0]!.message);
  if (spans.length === 0) return text;
  type Part = { runtime: string } | { value: unknown };
  const parts = spans.map((span): Part => {
    const bound = bindExpression(span.source, scope.inputs);
    if (bound.runtime) return { runtime: `\${{ ${bound.source.trim()} }}` };
    try {
      return { value: evaluateExpression(span.source, scope) };
    } catch (e) {
      throw new BindError(errorText(e));
    }
  });
  const only = spans[0]!;
  if (spans.length === 1 && only.start === 0 && only.end === text.length) {
    const part = parts[0]!;
    return "runtime" in part ? new Deferred(part.runtime) : part.value;
  }
  const anyRuntime = parts.some((p) => "runtime" in p);
  let out = "";
  let at = 0;
  spans.forEach((span, n) => {
    const part = parts[n]!;
    let piece: string;
    if ("runtime" in part) piece = part.runtime;
    else {
      piece = stringifyValue(part.value);
      // Inside a template that the engine renders, data must stay data.
      if (anyRuntime && /[${}]/.test(piece)) piece = `\${{ ${stringLiteral(piece)} }}`;
    }
    out += text.slice(at, span.start) + piece;
    at = span.end;
  });
  out += text.slice(at);
  return anyRuntime ? new Deferred(out) : out;
}

/** Every string inside a JSON-like value, bound. */
export function bindDeep(value: unknown, scope: BindScope): unknown {
  if (typeof value === "string") return bindTemplate(value, scope);
  if (Array.isArray(value)) return value.map((v) => bindDeep(v, scope));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bindDeep(v, scope)]));
  }
  return value;
}

/** An `if:` with its `inputs` reads replaced by values; the engine evaluates it. */
export function bindCondition(condition: string, inputs: Record<string, unknown>): string {
  const trimmed = condition.trim();
  const { spans } = findExpressions(trimmed);
  if (spans.length === 0) return bindExpression(trimmed, inputs).source;
  let out = "";
  let at = 0;
  for (const span of spans) {
    out += trimmed.slice(at, span.start) + `\${{ ${bindExpression(span.source, inputs).source.trim()} }}`;
    at = span.end;
  }
  return out + trimmed.slice(at);
}

/** Bound value -> env template: data becomes its text, quoted so the engine never evaluates it. */
export function envTemplate(value: unknown): string {
  return value instanceof Deferred ? value.template : quoteLiteral(stringifyValue(value));
}

/** Bound value -> JSON the engine renders with renderDeep: every string in it is a template. */
export function runtimeValue(value: unknown): unknown {
  if (value instanceof Deferred) return value.template;
  if (typeof value === "string") return quoteLiteral(value);
  if (Array.isArray(value)) return value.map(runtimeValue);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, runtimeValue(v)]));
  }
  return value;
}
