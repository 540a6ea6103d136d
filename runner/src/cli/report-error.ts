import { EXIT, exitCodeFor, type ExitCode } from "../core/exit-codes.js";
import { isOpscError } from "../core/errors.js";
import type { Redactor } from "../secrets/redactor.js";

/**
 * Prints an error for a person and returns the exit code. User, usage and
 * environment errors get a message and a hint, never a stack trace; only bugs
 * show one, because then the stack is what a maintainer needs.
 */
export function reportError(
  e: unknown,
  redactor?: Redactor,
  write = (s: string) => process.stderr.write(s),
): ExitCode {
  const mask = (s: string) => (redactor ? redactor.redact(s) : s);
  if (isOpscError(e)) {
    const where = e.position ? `${e.position.file}:${e.position.line}:${e.position.col}: ` : "";
    write(mask(`opsc: ${where}error[${e.code}]: ${e.message}\n`));
    if (e.hint) write(mask(`  hint: ${e.hint}\n`));
    if (e.kind === "bug" && e.stack) write(mask(`${e.stack}\n`));
    return exitCodeFor(e.kind);
  }
  const err = e instanceof Error ? e : new Error(String(e));
  write(mask(`opsc: internal error: ${err.message}\n`));
  write(
    mask(`  This is a bug in OpsConductor. Please report it with the lines below.\n${err.stack ?? ""}\n`),
  );
  return EXIT.bug;
}
