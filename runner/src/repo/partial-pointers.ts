/**
 * The sub-schemas that partial.ts validates on their own, by JSON pointer into
 * the job and step schemas. scripts/schema-validators.ts precompiles each one,
 * so a pointer used at run time must be listed here.
 */
export const PARTIAL_POINTERS: Record<"job" | "step", readonly string[]> = {
  job: [
    "#/$defs/stepUse",
    "#/properties/inputs",
    "#/properties/env",
    "#/properties/secrets",
    "#/properties/notify",
    "#/properties/description",
    "#/properties/on/properties/push",
    "#/properties/on/properties/schedule",
    "#/properties/on/properties/webhook",
    "#/properties/on/properties/manual",
  ],
  step: [
    "#/$defs/stepUse",
    "#/properties/inputs",
    "#/properties/env",
    "#/properties/run",
    "#/properties/check",
    "#/properties/description",
  ],
};
