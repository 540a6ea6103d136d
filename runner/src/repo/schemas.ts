/**
 * The JSON Schemas of schema/, bundled into the program (no file I/O) and
 * compiled by ajv once per process, on first use.
 */
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { sharedAjv } from "../core/input-schema.js";
import jobSchema from "../../../schema/job.schema.json" with { type: "json" };
import lockSchema from "../../../schema/lock.schema.json" with { type: "json" };
import settingsSchema from "../../../schema/opsconductor.schema.json" with { type: "json" };
import stepSchema from "../../../schema/step.schema.json" with { type: "json" };
import targetsSchema from "../../../schema/targets.schema.json" with { type: "json" };

export type FileKind = "settings" | "targets" | "step" | "job" | "lock";

export const SCHEMAS: Record<FileKind, Record<string, unknown>> = {
  settings: settingsSchema,
  targets: targetsSchema,
  step: stepSchema,
  job: jobSchema,
  lock: lockSchema,
};

const compiled = new Map<FileKind, ValidateFunction>();

export function validateKind(kind: FileKind, value: unknown): ErrorObject[] {
  let fn = compiled.get(kind);
  if (!fn) {
    fn = sharedAjv().compile(SCHEMAS[kind]);
    compiled.set(kind, fn);
  }
  return fn(value) ? [] : [...(fn.errors ?? [])];
}

export { sharedAjv };
