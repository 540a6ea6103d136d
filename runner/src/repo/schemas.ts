/**
 * The JSON Schemas of schema/, bundled into the program (no file I/O). Their
 * validators are precompiled (scripts/schema-validators.ts): compiling them
 * with ajv took most of a second of every `opsc validate` and `opsc run`.
 */
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { VALIDATORS } from "./generated/schema-validators.js";
import accessSchema from "../../../schema/access.schema.json" with { type: "json" };
import jobSchema from "../../../schema/job.schema.json" with { type: "json" };
import lockSchema from "../../../schema/lock.schema.json" with { type: "json" };
import settingsSchema from "../../../schema/opsconductor.schema.json" with { type: "json" };
import stepSchema from "../../../schema/step.schema.json" with { type: "json" };
import targetsSchema from "../../../schema/targets.schema.json" with { type: "json" };
import varsSchema from "../../../schema/vars.schema.json" with { type: "json" };

export type FileKind = "settings" | "targets" | "step" | "job" | "access" | "vars" | "lock";

export const SCHEMAS: Record<FileKind, Record<string, unknown>> = {
  settings: settingsSchema,
  targets: targetsSchema,
  step: stepSchema,
  job: jobSchema,
  access: accessSchema,
  vars: varsSchema,
  lock: lockSchema,
};

const validators = VALIDATORS as unknown as Record<string, ValidateFunction | undefined>;

/**
 * The precompiled validator of a kind's schema, or of its sub-schema at a JSON
 * pointer listed in partial-pointers.ts; undefined for any other pointer.
 */
export function schemaValidator(kind: FileKind, pointer = ""): ValidateFunction | undefined {
  return validators[`${kind}${pointer}`];
}

export function validateKind(kind: FileKind, value: unknown): ErrorObject[] {
  const fn = schemaValidator(kind)!;
  return fn(value) ? [] : [...(fn.errors ?? [])];
}
