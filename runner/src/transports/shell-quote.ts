/**
 * The one place a value meets a shell. Values are never spliced into script text
 * any other way: each becomes a single literal word that no shell re-reads.
 */
import { userError } from "../core/errors.js";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A POSIX sh / bash single-quoted word: nothing inside single quotes is special. */
export function quoteSh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A PowerShell verbatim string. PowerShell also treats the typographic quotes
 * U+2018..U+201B as single quotes, so those are doubled as well.
 */
export function quotePowerShell(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201A\u201B]/g, (q) => q + q)}'`;
}

/** Throws a user error for a variable name no shell can hold, or a value with NUL. */
export function checkEnvEntry(name: string, value: string): void {
  if (!ENV_NAME.test(name)) {
    throw userError("run.bad-env-name", `environment variable name ${JSON.stringify(name)} is not valid`, {
      hint: "use letters, digits and _ only, not starting with a digit",
    });
  }
  if (value.includes("\0")) {
    throw userError(
      "run.nul-in-env",
      `the value of ${name} contains a NUL byte, which no environment variable can hold`,
    );
  }
}
