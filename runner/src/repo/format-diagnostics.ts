/**
 * Diagnostics for people (compiler-style text with the offending line), for
 * programs (JSON), for GitHub Actions annotations, and as SARIF 2.1.0 for code
 * scanning. Pure: callers write the returned text.
 */
import type { Diagnostic } from "../core/diagnostic.js";

export type DiagnosticFormat = "text" | "json" | "github" | "sarif";
export const DIAGNOSTIC_FORMATS: readonly DiagnosticFormat[] = ["text", "json", "github", "sarif"];

/** Source line `line` of `file`, if it may be shown (never for credential files). */
export type LineLookup = (file: string, line: number) => string | undefined;

export interface FormatOptions {
  lineOf?: LineLookup;
  color?: boolean;
  /** Tool version for SARIF. */
  version?: string;
}

export function formatDiagnostics(
  diagnostics: readonly Diagnostic[],
  format: DiagnosticFormat,
  options: FormatOptions = {},
): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(
        {
          ok: !diagnostics.some((d) => d.severity === "error"),
          diagnostics: diagnostics.map((d) => ({
            file: d.file,
            line: d.line,
            col: d.col,
            severity: d.severity,
            code: d.code,
            message: d.message,
            ...(d.hint ? { hint: d.hint } : {}),
          })),
        },
        null,
        2,
      )}\n`;
    case "github":
      return diagnostics.map(githubLine).join("");
    case "sarif":
      return `${JSON.stringify(sarif(diagnostics, options.version ?? "0.0.0"), null, 2)}\n`;
    case "text":
      return text(diagnostics, options);
  }
}

function text(diagnostics: readonly Diagnostic[], options: FormatOptions): string {
  const paint = (code: string, s: string) => (options.color ? `\u001b[${code}m${s}\u001b[0m` : s);
  let out = "";
  for (const d of diagnostics) {
    const sev = d.severity === "error" ? paint("1;31", "error") : paint("1;33", "warning");
    out += `${paint("1", `${d.file}:${d.line}:${d.col}`)}: ${sev}[${d.code}]: ${d.message}\n`;
    const line = options.lineOf?.(d.file, d.line);
    if (line !== undefined) {
      const gutter = String(d.line);
      const shown = line.replace(/\t/g, " ");
      out += `${" ".repeat(gutter.length)} |\n${gutter} | ${shown}\n`;
      out += `${" ".repeat(gutter.length)} | ${" ".repeat(Math.max(0, d.col - 1))}${paint("1;32", "^")}\n`;
    }
    if (d.hint) out += `  ${paint("36", "hint")}: ${d.hint}\n`;
    out += "\n";
  }
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  out +=
    errors === 0 && warnings === 0
      ? "no problems found\n"
      : `${plural(errors, "error")}, ${plural(warnings, "warning")}\n`;
  return out;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Workflow-command escaping, as @actions/core does it. */
function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

function githubLine(d: Diagnostic): string {
  const kind = d.severity === "error" ? "error" : "warning";
  const message = `${d.message} [${d.code}]${d.hint ? `\n${d.hint}` : ""}`;
  return `::${kind} file=${escapeProperty(d.file)},line=${d.line},col=${d.col},title=${escapeProperty(d.code)}::${escapeData(message)}\n`;
}

function sarif(diagnostics: readonly Diagnostic[], version: string): unknown {
  const rules = [...new Set(diagnostics.map((d) => d.code))].sort();
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "opsc validate",
            informationUri: "https://opsconductor.dev/docs/validation",
            version,
            rules: rules.map((id) => ({
              id,
              shortDescription: { text: id },
              helpUri: `https://opsconductor.dev/docs/validation#${id.replace(/\./g, "")}`,
            })),
          },
        },
        results: diagnostics.map((d) => ({
          ruleId: d.code,
          ruleIndex: rules.indexOf(d.code),
          level: d.severity === "error" ? "error" : "warning",
          message: { text: d.hint ? `${d.message}\nHint: ${d.hint}` : d.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: d.file, uriBaseId: "%SRCROOT%" },
                region: { startLine: d.line, startColumn: d.col },
              },
            },
          ],
        })),
      },
    ],
  };
}
