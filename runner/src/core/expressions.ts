/**
 * `${{ ... }}` expressions, in the GitHub Actions language users already know.
 *
 * Parsing and evaluation are GitHub's own implementation (@actions/expressions);
 * this module only finds the expressions in a string, names the contexts
 * OpsConductor offers, and converts values in and out.
 */
import { Evaluator, Lexer, Parser, data, type Expr } from "@actions/expressions";
import { TokenType, type Token } from "@actions/expressions/lexer";
import type { FunctionDefinition, FunctionInfo } from "@actions/expressions/funcs/info";
import { errorText } from "./error-text.js";

/** Contexts an expression may read. `secrets` is deliberately absent: secrets reach scripts only as env. */
export const EXPRESSION_CONTEXTS = ["inputs", "target", "steps", "run", "git", "env", "job"] as const;
export type ExpressionContextName = (typeof EXPRESSION_CONTEXTS)[number];

/** Step-status functions, as in GitHub Actions `if:`. */
const STATUS_FUNCTIONS: FunctionInfo[] = [
  { name: "success", minArgs: 0, maxArgs: 0 },
  { name: "failure", minArgs: 0, maxArgs: 0 },
  { name: "always", minArgs: 0, maxArgs: 0 },
  { name: "cancelled", minArgs: 0, maxArgs: 0 },
];

export interface ExpressionSpan {
  /** The text between `${{` and `}}`, untrimmed. */
  source: string;
  /** Offset of `${{` in the containing string. */
  start: number;
  /** Offset just past `}}`. */
  end: number;
}

export interface ExpressionProblem {
  message: string;
  /** Offset in the containing string where the problem starts. */
  offset: number;
}

const OPEN = "${{";
const CLOSE = "}}";

/** Every `${{ ... }}` in `text`, in order. An unclosed `${{` is reported as a problem. */
export function findExpressions(text: string): { spans: ExpressionSpan[]; problems: ExpressionProblem[] } {
  const spans: ExpressionSpan[] = [];
  const problems: ExpressionProblem[] = [];
  let from = 0;
  for (;;) {
    const start = text.indexOf(OPEN, from);
    if (start < 0) break;
    const close = findClose(text, start + OPEN.length);
    if (close < 0) {
      problems.push({ message: "`${{` is never closed with `}}`", offset: start });
      break;
    }
    spans.push({ source: text.slice(start + OPEN.length, close), start, end: close + CLOSE.length });
    from = close + CLOSE.length;
  }
  return { spans, problems };
}

/** Finds `}}` outside single-quoted string literals (the only string syntax the language has). */
function findClose(text: string, from: number): number {
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      // '' inside a string is an escaped quote
      if (inString && text[i + 1] === "'") {
        i++;
        continue;
      }
      inString = !inString;
    } else if (!inString && c === "}" && text[i + 1] === "}") {
      return i;
    }
  }
  return -1;
}

export function containsExpression(text: string): boolean {
  return text.includes(OPEN);
}

const parseCache = new Map<string, Expr>();

/** Parses one expression (without `${{ }}`); throws ExpressionError-like errors with a message. */
export function parseExpression(source: string): Expr {
  const cached = parseCache.get(source);
  if (cached) return cached;
  const lexed = new Lexer(source).lex();
  const expr = new Parser(lexed.tokens, [...EXPRESSION_CONTEXTS], STATUS_FUNCTIONS).parse();
  if (parseCache.size > 10_000) parseCache.clear();
  parseCache.set(source, expr);
  return expr;
}

/** One expression's tokens with their offsets into `source`; the EOF token is left out. */
export function expressionTokens(source: string): Array<Token & { start: number; end: number }> {
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === "\n") lineStarts.push(i + 1);
  const offset = (p: { line: number; column: number }): number => (lineStarts[p.line] ?? 0) + p.column;
  return new Lexer(source)
    .lex()
    .tokens.filter((t) => t.type !== TokenType.EOF)
    .map((t) => ({ ...t, start: offset(t.range.start), end: offset(t.range.end) }));
}

/** A string literal of the expression language. */
export function stringLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** An expression that evaluates to `value` (plain JSON-like data). */
export function literalExpression(value: unknown): string {
  return typeof value === "string"
    ? stringLiteral(value)
    : `fromJSON(${stringLiteral(JSON.stringify(value ?? null))})`;
}

/**
 * A template that renders to exactly `text`. Data placed where templates are
 * expected (a plan's env) goes through here, so a value that happens to
 * contain `${{` stays text and is never evaluated.
 */
export function quoteLiteral(text: string): string {
  return containsExpression(text) ? `\${{ ${stringLiteral(text)} }}` : text;
}

/** Checks every expression in `text`; returns problems with offsets into `text`. Pure. */
export function checkExpressions(text: string): ExpressionProblem[] {
  const { spans, problems } = findExpressions(text);
  for (const span of spans) {
    if (span.source.trim() === "") {
      problems.push({ message: "empty expression `${{ }}`", offset: span.start });
      continue;
    }
    try {
      parseExpression(span.source);
    } catch (e) {
      problems.push({ message: describeParseError(e), offset: span.start });
    }
  }
  return problems;
}

function describeParseError(e: unknown): string {
  const msg = errorText(e);
  if (/Unrecognized named-value/i.test(msg)) {
    return `${msg}. Expressions can read: ${EXPRESSION_CONTEXTS.join(", ")}`;
  }
  return msg;
}

/** Values an expression sees. Plain JSON-like data. */
export type ExpressionContext = Partial<Record<ExpressionContextName, unknown>>;

export interface StepStatus {
  /** true once any earlier step on this target failed (not counting continue_on_error). */
  failed: boolean;
  cancelled: boolean;
}

function toData(value: unknown): data.Dictionary {
  const json = JSON.stringify(value ?? {}, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return JSON.parse(json, data.reviver) as data.Dictionary;
}

function fromData(value: data.ExpressionData): unknown {
  return JSON.parse(JSON.stringify(value, data.replacer)) as unknown;
}

function statusFunctions(status: StepStatus): Map<string, FunctionDefinition> {
  const fns = new Map<string, FunctionDefinition>();
  const def = (name: string, result: () => boolean) =>
    fns.set(name, { name, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(result()) });
  def("success", () => !status.failed && !status.cancelled);
  def("failure", () => status.failed);
  def("always", () => true);
  def("cancelled", () => status.cancelled);
  return fns;
}

const OK_STATUS: StepStatus = { failed: false, cancelled: false };

/** Evaluates one expression (without `${{ }}`) to a plain value. */
export function evaluateExpression(source: string, context: ExpressionContext, status = OK_STATUS): unknown {
  return evaluateWith(source, toData(context), status);
}

/** Contexts hold every earlier step's outputs: a template converts its context once, not once per span. */
function evaluateWith(source: string, context: data.Dictionary, status: StepStatus): unknown {
  const expr = parseExpression(source);
  const result = new Evaluator(expr, context, statusFunctions(status)).evaluate();
  return fromData(result);
}

/** How a value appears when spliced into a string: GitHub's coercion (objects as JSON). */
export function stringifyValue(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/**
 * Renders a template. A template that is exactly one expression keeps the
 * expression's type (so `with: { n: ${{ inputs.count }} }` stays a number);
 * anything else becomes a string.
 */
export function renderTemplate(text: string, context: ExpressionContext, status = OK_STATUS): unknown {
  const { spans, problems } = findExpressions(text);
  if (problems.length > 0) throw new Error(problems[0]!.message);
  if (spans.length === 0) return text;
  const only = spans[0]!;
  if (spans.length === 1 && only.start === 0 && only.end === text.length) {
    return evaluateExpression(only.source, context, status);
  }
  const dict = toData(context);
  let out = "";
  let at = 0;
  for (const span of spans) {
    out += text.slice(at, span.start) + stringifyValue(evaluateWith(span.source, dict, status));
    at = span.end;
  }
  return out + text.slice(at);
}

/** Renders every string inside a JSON-like value. */
export function renderDeep(value: unknown, context: ExpressionContext, status = OK_STATUS): unknown {
  if (typeof value === "string") return renderTemplate(value, context, status);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, context, status));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderDeep(v, context, status);
    return out;
  }
  return value;
}

/**
 * An `if:` condition: with or without `${{ }}`, as in GitHub Actions. A condition
 * that does not mention a status function implies `success() && (...)`.
 */
export function evaluateCondition(
  condition: string,
  context: ExpressionContext,
  status = OK_STATUS,
): boolean {
  const trimmed = condition.trim();
  const { spans } = findExpressions(trimmed);
  const whole =
    spans.length === 1 && spans[0]!.start === 0 && spans[0]!.end === trimmed.length ? spans[0]!.source : null;
  const source = whole ?? (spans.length === 0 ? trimmed : null);
  if (source === null) {
    // Mixed text and expressions: the rendered string decides (non-empty is truthy).
    return truthy(renderTemplate(trimmed, context, status)) && !status.failed && !status.cancelled;
  }
  const usesStatus = /\b(success|failure|always|cancelled)\s*\(/.test(source);
  const value = evaluateExpression(usesStatus ? source : `success() && (${source})`, context, status);
  return truthy(value);
}

function truthy(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0 && !Number.isNaN(value);
  if (typeof value === "string") return value !== "";
  return true;
}
