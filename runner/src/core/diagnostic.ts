/**
 * A problem found in the automation repository. The loader and the checks
 * return these instead of throwing, so a user sees every problem at once.
 */
export type Severity = "error" | "warning";

export interface Diagnostic {
  /** Path relative to the repository root, forward slashes. */
  file: string;
  /** 1-based line of the offending node. */
  line: number;
  /** 1-based column of the offending node. */
  col: number;
  endLine?: number;
  endCol?: number;
  severity: Severity;
  /** Stable identifier, e.g. `schema.required`, `ref.unknown-step`. Documented in docs/validation.md. */
  code: string;
  message: string;
  /** What to do about it. */
  hint?: string;
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return a.file < b.file
    ? -1
    : a.file > b.file
      ? 1
      : a.line - b.line || a.col - b.col || a.code.localeCompare(b.code);
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}
