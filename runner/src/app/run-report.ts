/**
 * The report of a finished run a door shows (the action's job summary): the
 * same markdown as the run's README on the records branch, with links that
 * resolve where it is read.
 */
import type { RunSummary } from "../core/run-summary.js";
import { renderRunReadme, type ReadmeOptions } from "../records/render-readme.js";

export function runReport(summary: RunSummary, options: ReadmeOptions = {}): string {
  return renderRunReadme(summary, options);
}
