/**
 * Validation of values against the JSON Schemas users write for job and step
 * inputs. One ajv instance, each schema compiled once per process.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";

const ajv = new Ajv2020({ allErrors: true, strict: false, useDefaults: false });
const compiled = new Map<string, ValidateFunction>();

function compile(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let fn = compiled.get(key);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(key, fn);
  }
  return fn;
}

/** Problems with `value` under `schema`, as short sentences; empty when valid. */
export function inputProblems(schema: Record<string, unknown>, value: unknown): string[] {
  let fn: ValidateFunction;
  try {
    fn = compile(schema);
  } catch (e) {
    return [`the input's schema is invalid: ${e instanceof Error ? e.message : String(e)}`];
  }
  if (fn(value)) return [];
  return (fn.errors ?? []).map((err) => `${err.instancePath ? `${err.instancePath.slice(1)} ` : ""}${err.message}`);
}

/**
 * Values from a command line or query string are text. Turn them into what the
 * schema expects, so `--input count=3` is the number 3 and `--input tags=a,b` a list.
 */
export function coerceInput(schema: Record<string, unknown>, raw: string): unknown {
  const type = schema.type;
  switch (type) {
    case "integer":
    case "number": {
      const n = Number(raw);
      return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
    }
    case "boolean":
      return raw === "true" ? true : raw === "false" ? false : raw;
    case "array":
      if (raw.trim().startsWith("[")) return parseJsonOr(raw);
      return raw === "" ? [] : raw.split(",").map((s) => s.trim());
    case "object":
      return parseJsonOr(raw);
    default:
      return raw;
  }
}

function parseJsonOr(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}
