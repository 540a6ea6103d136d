/**
 * Validation of values against the JSON Schemas users write for job and step
 * inputs. One ajv instance, each schema compiled once per process; validation
 * (`opsc validate`) and planning use the same validators.
 */
import { createRequire } from "node:module";
import type { Ajv2020, ValidateFunction } from "ajv/dist/2020.js";
import { stringifyValue } from "./expressions.js";
import { errorText } from "./error-text.js";
import { AJV_OPTIONS, META_SCHEMA_ID } from "./ajv-options.js";
import { VALIDATORS as META_VALIDATORS } from "./generated/meta-schema-validator.js";

let shared: Ajv2020 | undefined;

/**
 * The meta-schema's validator, precompiled (scripts/schema-validators.ts):
 * ajv compiling it on first use cost most of a second of `opsc validate`.
 */
const metaValidator = (META_VALIDATORS as unknown as Record<string, ValidateFunction>)[META_SCHEMA_ID]!;

/**
 * The one ajv instance for users' input schemas. inputValidator checks each
 * schema against the precompiled meta-schema first, so this instance neither
 * checks schemas again nor carries meta-schemas of its own.
 */
export function sharedAjv(): Ajv2020 {
  if (!shared) {
    const { Ajv2020 } = load("ajv/dist/2020.js") as typeof import("ajv/dist/2020.js");
    const formats = load("ajv-formats") as { default?: unknown };
    // ajv-formats is CommonJS; its default export arrives wrapped under some loaders.
    const addFormats = (formats.default ?? formats) as (ajv: Ajv2020) => Ajv2020;
    shared = new Ajv2020({ ...AJV_OPTIONS, validateSchema: false, meta: false });
    addFormats(shared);
  }
  return shared;
}

/**
 * The ajv compiler is loaded on the first input schema: loading it is most of
 * what a repository without input schemas would pay for it. Callers are
 * synchronous (loadRepo, buildPlan), hence require() rather than import(); in
 * the bundle esbuild makes each require() a call of the bundled module, run on
 * first use. The literal specifiers let esbuild see what to bundle.
 */
function load(id: "ajv/dist/2020.js" | "ajv-formats"): unknown {
  if (typeof require === "function")
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use, see above
    return id === "ajv-formats" ? require("ajv-formats") : require("ajv/dist/2020.js");
  return createRequire(import.meta.url)(id);
}

const compiled = new Map<string, ValidateFunction | string>();

/** A validator for one input schema (compiled once), or why the schema itself is invalid. */
export function inputValidator(schema: Record<string, unknown>): ValidateFunction | string {
  const key = JSON.stringify(schema);
  let fn = compiled.get(key);
  if (fn === undefined) {
    const draft = schema.$schema ?? META_SCHEMA_ID;
    if (typeof draft !== "string" || draft.replace(/#$/, "") !== META_SCHEMA_ID) {
      // ajv knows no other draft here: asking it to check one was an internal error.
      fn = `$schema ${JSON.stringify(draft)} is not supported: inputs are JSON Schema draft 2020-12 (${META_SCHEMA_ID}); leave $schema out`;
    } else if (!metaValidator(schema)) {
      fn = sharedAjv().errorsText(metaValidator.errors, { dataVar: "schema" });
    } else {
      try {
        fn = sharedAjv().compile(schema);
      } catch (e) {
        fn = errorText(e);
      }
    }
    if (compiled.size > 5000) compiled.clear();
    compiled.set(key, fn);
  }
  return fn;
}

/** Problems with `value` under `schema`, as short sentences; empty when valid. */
export function inputProblems(schema: Record<string, unknown>, value: unknown): string[] {
  const fn = inputValidator(schema);
  if (typeof fn === "string") return [`the input's schema is invalid: ${fn}`];
  if (fn(value)) return [];
  return (fn.errors ?? []).map(
    (err) => `${err.instancePath ? `${err.instancePath.slice(1)} ` : ""}${err.message}`,
  );
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

/** INPUT_<NAME>: upper case, anything outside [A-Z0-9_] becomes `_`, as GitHub Actions does. */
export function inputEnvName(name: string): string {
  return `INPUT_${name.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
}

/**
 * How an input value reaches a script as text: lists space-separated
 * (`apt-get install $INPUT_PACKAGES`), maps as JSON, numbers and booleans as
 * JSON writes them, null as empty.
 */
export function inputEnvText(value: unknown): string {
  if (Array.isArray(value)) return value.map(stringifyValue).join(" ");
  return stringifyValue(value);
}
