/**
 * The launch form's validator. The server checks inputs (POST
 * /api/jobs/JOB/check, the planner's rules) and the form shows those problems
 * as `extraErrors`; in the page itself nothing is compiled, because the
 * dashboard's Content-Security-Policy forbids the code generation Ajv uses.
 * So this validator accepts everything and lets the server's answer speak.
 */
import type { ErrorSchema, RJSFSchema, ValidationData, ValidatorType } from "@rjsf/utils";

export const serverCheckedValidator: ValidatorType<Record<string, unknown>, RJSFSchema> = {
  validateFormData(formData): ValidationData<Record<string, unknown>> {
    void formData;
    return { errors: [], errorSchema: {} as ErrorSchema<Record<string, unknown>> };
  },
  isValid() {
    return true;
  },
  rawValidation() {
    return { errors: [] };
  },
};

/** The server's `{input: [problems]}` as the form's error schema. */
export function errorSchemaOf(problems: Record<string, string[]>): ErrorSchema<Record<string, unknown>> {
  const out: Record<string, { __errors: string[] }> = {};
  for (const [name, list] of Object.entries(problems)) out[name] = { __errors: list };
  return out as unknown as ErrorSchema<Record<string, unknown>>;
}
