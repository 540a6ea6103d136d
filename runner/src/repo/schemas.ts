/**
 * The JSON Schemas of schema/, bundled into the program (no file I/O) and
 * compiled by ajv once per process, on first use.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import jobSchema from "../../../schema/job.schema.json" with { type: "json" };
import settingsSchema from "../../../schema/opsconductor.schema.json" with { type: "json" };
import stepSchema from "../../../schema/step.schema.json" with { type: "json" };
import targetsSchema from "../../../schema/targets.schema.json" with { type: "json" };

export type FileKind = "settings" | "targets" | "step" | "job";

export const SCHEMAS: Record<FileKind, Record<string, unknown>> = {
  settings: settingsSchema,
  targets: targetsSchema,
  step: stepSchema,
  job: jobSchema,
};

/** ajv-formats is CommonJS; its default export arrives wrapped under some loaders. */
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

let shared: Ajv2020 | undefined;

/** The ajv instance for the repository's own schemas and for users' input schemas. */
export function sharedAjv(): Ajv2020 {
  if (!shared) {
    shared = new Ajv2020({ allErrors: true, strict: false, verbose: true, validateFormats: true });
    addFormats(shared);
  }
  return shared;
}

const compiled = new Map<FileKind, ValidateFunction>();

export function validateKind(kind: FileKind, value: unknown): ErrorObject[] {
  let fn = compiled.get(kind);
  if (!fn) {
    fn = sharedAjv().compile(SCHEMAS[kind]);
    compiled.set(kind, fn);
  }
  return fn(value) ? [] : [...(fn.errors ?? [])];
}
