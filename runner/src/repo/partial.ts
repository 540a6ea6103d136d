/**
 * The parts of a schema-invalid job or library step that are valid on their
 * own, so the checks beyond the schema still run on them and a user sees every
 * problem at once. Invalid list items become holes (`undefined`), keeping the
 * indexes that positions are computed from. Partial entries never enter the
 * model: the planner only sees files that passed their schema.
 */
import { isRecord } from "../core/is-record.js";
import { bug } from "../core/errors.js";
import type { RawJob, RawPhase, RawStep, RawStepUse } from "./raw-types.js";
import { schemaValidator } from "./schemas.js";

/** Whether `value` is valid under a sub-schema; each pointer must be listed in partial-pointers.ts. */
function valid(kind: "job" | "step", pointer: string, value: unknown): boolean {
  const fn = schemaValidator(kind, pointer);
  if (!fn)
    throw bug("validators.pointer", `${kind}${pointer} is not precompiled: list it in partial-pointers.ts`);
  return fn(value) === true;
}

function stepItems(kind: "job" | "step", value: unknown): RawStepUse[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.map((item) =>
    valid(kind, "#/$defs/stepUse", item) ? (item as RawStepUse) : undefined,
  ) as RawStepUse[];
}

function fields<T>(kind: "job" | "step", value: Record<string, unknown>, names: string[]): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    if (name in value && valid(kind, `#/properties/${name}`, value[name])) out[name] = value[name];
  }
  // Input names matter to `${{ inputs.X }}` checks even when a declaration is broken.
  if (!("inputs" in out) && isRecord(value.inputs)) {
    out.inputs = Object.fromEntries(Object.keys(value.inputs).map((k) => [k, {}]));
  }
  return out as Partial<T>;
}

export function partialJob(value: unknown): RawJob | undefined {
  if (!isRecord(value)) return undefined;
  const job = fields<RawJob>("job", value, ["inputs", "env", "secrets", "notify", "description"]) as RawJob;
  if (isRecord(value.on)) {
    const on = value.on;
    const kept: Record<string, unknown> = {};
    for (const name of ["push", "schedule", "webhook", "manual"]) {
      if (name in on && valid("job", `#/properties/on/properties/${name}`, on[name])) kept[name] = on[name];
    }
    job.on = kept as RawJob["on"];
  }
  const steps = stepItems("job", value.steps);
  if (steps) job.steps = steps;
  if (Array.isArray(value.phases)) {
    job.phases = value.phases.map((p) => {
      if (!isRecord(p)) return undefined;
      return {
        name: typeof p.name === "string" ? p.name : "",
        steps: stepItems("job", p.steps) ?? [],
      };
    }) as RawPhase[];
  }
  return job;
}

export function partialStep(value: unknown): RawStep | undefined {
  if (!isRecord(value)) return undefined;
  const step = fields<RawStep>("step", value, ["inputs", "env", "run", "check", "description"]) as RawStep;
  const steps = stepItems("step", value.steps);
  if (steps) step.steps = steps;
  return step;
}
