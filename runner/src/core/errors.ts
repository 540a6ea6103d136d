/**
 * One error type for everything OpsConductor reports, with a stable code.
 *
 * The kind decides the exit code, so scripts can tell "you gave me something wrong"
 * from "the machine or network is in the way" from "OpsConductor has a bug".
 */
export type ErrorKind = "usage" | "user" | "environment" | "bug";

export interface SourcePosition {
  /** Path relative to the automation repository's root, with forward slashes. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
}

export interface OpscErrorOptions {
  /** What the user can do about it; printed under the message. */
  hint?: string;
  position?: SourcePosition;
  cause?: unknown;
}

export class OpscError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly position: SourcePosition | undefined;

  constructor(kind: ErrorKind, code: string, message: string, options: OpscErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OpscError";
    this.kind = kind;
    this.code = code;
    this.hint = options.hint;
    this.position = options.position;
  }
}

/** A mistake in what the user wrote or asked for: a file, a reference, a value. */
export function userError(code: string, message: string, options?: OpscErrorOptions): OpscError {
  return new OpscError("user", code, message, options);
}

/** A command line that does not parse: unknown flag, missing argument. */
export function usageError(code: string, message: string, options?: OpscErrorOptions): OpscError {
  return new OpscError("usage", code, message, options);
}

/** Something outside OpsConductor is in the way: a missing tool, a network, a permission. */
export function environmentError(code: string, message: string, options?: OpscErrorOptions): OpscError {
  return new OpscError("environment", code, message, options);
}

/** An invariant of OpsConductor itself broke. */
export function bug(code: string, message: string, options?: OpscErrorOptions): OpscError {
  return new OpscError("bug", code, message, options);
}

export function isOpscError(e: unknown): e is OpscError {
  return e instanceof OpscError;
}
