/**
 * Liquid templates for `copy: { template: true }` (liquidjs). Strict: an unknown
 * variable or filter is an error, never an empty string. Templates cannot read
 * files (no includes: the template map is empty) and values are data, never code.
 * Pure; errors carry the template's file, line and column.
 */
import { createRequire } from "node:module";
import type { Liquid } from "liquidjs";
import { userError } from "./errors.js";

/** What a template can read, besides these: nothing. */
export const TEMPLATE_CONTEXTS = ["inputs", "target", "vars", "facts", "steps", "secrets"] as const;

let liquid: Liquid | undefined;

/**
 * The engine, loaded and built on the first template: liquidjs costs tens of
 * milliseconds to load and as many to build, which a repository without
 * templates (and every `opsc validate` of one) should not pay. Callers are
 * synchronous (loadRepo), hence require() rather than import(). The CLI bundle
 * leaves liquidjs out (one file of its own, read only here); the Action's
 * bundle carries it.
 */
function engine(): Liquid {
  if (!liquid) {
    const { Liquid } = (
      typeof require === "function"
        ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use, see above
          require("liquidjs")
        : createRequire(import.meta.url)("liquidjs")
    ) as typeof import("liquidjs");
    liquid = new Liquid({
      strictVariables: true,
      strictFilters: true,
      ownPropertyOnly: true,
      // An empty in-memory template map: `{% include %}` and `{% render %}` find nothing on disk.
      templates: {},
      relativeReference: false,
      dynamicPartials: false,
    });
  }
  return liquid;
}

export interface TemplateVariable {
  /** `vars.users`, `facts.os_id` as segments. */
  segments: Array<string | number>;
  line: number;
  col: number;
}

export interface TemplateProblem {
  message: string;
  line: number;
  col: number;
}

function position(e: unknown): { line: number; col: number; message: string } {
  const text = e instanceof Error ? e.message : String(e);
  const m = /^(.*), line:(\d+), col:(\d+)$/s.exec(text);
  return m ? { message: m[1]!, line: Number(m[2]), col: Number(m[3]) } : { message: text, line: 1, col: 1 };
}

/** The global variables a template reads, or the syntax problem that stops it parsing. */
export function templateVariables(text: string): {
  variables: TemplateVariable[];
  problem?: TemplateProblem;
} {
  try {
    const analysis = engine().parseAndAnalyzeSync(text);
    const variables: TemplateVariable[] = [];
    for (const list of Object.values(analysis.globals)) {
      for (const v of list) {
        variables.push({
          segments: v.segments.map((s) => (typeof s === "string" || typeof s === "number" ? s : String(s))),
          line: v.location.row,
          col: v.location.col,
        });
      }
    }
    return { variables };
  } catch (e) {
    return { variables: [], problem: position(e) };
  }
}

/** Renders a template; a mistake becomes a user error naming `file:line:col`. */
export function renderLiquid(text: string, file: string, context: Record<string, unknown>): string {
  try {
    return engine().parseAndRenderSync(text, context) as string;
  } catch (e) {
    const p = position(e);
    throw userError("template.render", `${file}:${p.line}:${p.col}: ${p.message}`, {
      hint: "templates read inputs, target, vars, facts, steps and the secrets the step lists; see docs/files-and-templates.md",
    });
  }
}
