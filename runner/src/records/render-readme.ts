/**
 * README.md of a run directory: what a person opening the folder on GitHub
 * wants first (result, who, what commit), then a table of targets by steps.
 */
import type { RunSummary } from "../core/run-summary.js";
import type { StepOutcome, TargetOutcome } from "../core/run-events.js";
import { targetLogPath } from "./record-paths.js";
import { formatDuration } from "../core/format-duration.js";

const ICON: Record<TargetOutcome | StepOutcome | RunSummary["result"], string> = {
  ok: "✅",
  changed: "🔄",
  failed: "❌",
  skipped: "⏭️",
  unreachable: "🔌",
  timed_out: "⏱️",
  cancelled: "🚫",
  success: "✅",
  failure: "❌",
  interrupted: "⚡",
};

/** Table cells: a `|` or a newline would break the row. */
function cell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function code(text: string): string {
  return `\`${cell(text).replace(/`/g, "'")}\``;
}

export interface ReadmeOptions {
  /**
   * The run folder's web address, for a copy read elsewhere (a workflow's job
   * summary), where the folder's relative links would not resolve. `null`: the
   * folder is not reachable (not pushed), so targets are not linked.
   */
  recordUrl?: string | null;
}

function logLink(name: string, recordUrl: string | null | undefined): string {
  const path = targetLogPath(name);
  if (recordUrl === undefined) return `[${cell(name)}](${path})`;
  if (recordUrl === null) return cell(name);
  return `[${cell(name)}](${recordUrl}/${path.split("/").map(encodeURIComponent).join("/")})`;
}

export function renderRunReadme(summary: RunSummary, options: ReadmeOptions = {}): string {
  const out: string[] = [];
  const total = summary.targets.length;
  const ok = summary.counts.ok + summary.counts.changed + summary.counts.skipped;
  out.push(`# ${ICON[summary.result]} ${cell(summary.job)}: ${summary.result} (${ok}/${total})`, "");
  const ms = Date.parse(summary.finishedAt) - Date.parse(summary.startedAt);
  const facts: Array<[string, string]> = [
    ["Run", code(summary.id)],
    ["Job", code(summary.job)],
    ["Result", `${ICON[summary.result]} ${summary.result}${summary.checkMode ? " (check mode)" : ""}`],
    ["Trigger", `${summary.trigger.kind} by ${code(summary.actor)}`],
    ["Source commit", sourceOf(summary)],
    ["Started", summary.startedAt],
    ["Finished", `${summary.finishedAt}${Number.isFinite(ms) ? ` (${formatDuration(ms)})` : ""}`],
  ];
  if (summary.dirtyTree) facts.push(["Uncommitted", summary.dirtyTree.paths.map(code).join(" ")]);
  if (summary.ref) facts.push(["Ref", code(summary.ref)]);
  if (summary.shard) facts.push(["Shard", `${summary.shard.index}/${summary.shard.count}`]);
  if (summary.lastFinishedStep) {
    facts.push([
      "Last finished step",
      `${code(summary.lastFinishedStep.step)} on ${code(summary.lastFinishedStep.target)}`,
    ]);
  }
  const inputs = Object.entries(summary.inputs);
  if (inputs.length > 0)
    facts.push(["Inputs", inputs.map(([k, v]) => code(`${k}=${JSON.stringify(v)}`)).join(" ")]);
  out.push("| | |", "|---|---|", ...facts.map(([k, v]) => `| ${k} | ${v} |`), "");

  const counts = Object.entries(summary.counts)
    .filter(([, n]) => n > 0)
    .map(([o, n]) => `${ICON[o as TargetOutcome]} ${n} ${o}`);
  if (counts.length > 0) out.push(`Targets: ${counts.join(", ")}`, "");

  if (summary.targets.length > 0) {
    const stepIds: string[] = [];
    for (const t of summary.targets) for (const s of t.steps) if (!stepIds.includes(s.id)) stepIds.push(s.id);
    const phases = new Set(summary.targets.map((t) => t.phase));
    const withPhase = phases.size > 1;
    const head = ["Target", ...(withPhase ? ["Phase"] : []), "Outcome", ...stepIds.map(code)];
    out.push(`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`);
    for (const t of summary.targets) {
      const byId = new Map(t.steps.map((s) => [s.id, s]));
      const steps = stepIds.map((id) => {
        const s = byId.get(id);
        if (!s) return "";
        const retries = s.attempts > 1 ? ` ×${s.attempts}` : "";
        return `${ICON[s.outcome]} ${s.outcome} ${formatDuration(s.ms)}${retries}`;
      });
      const reason = t.reason ? `<br>${cell(t.reason)}` : "";
      const row = [
        logLink(t.name, options.recordUrl),
        ...(withPhase ? [cell(t.phase)] : []),
        `${ICON[t.outcome]} ${t.outcome} ${formatDuration(t.ms)}${reason}`,
        ...steps,
      ];
      out.push(`| ${row.join(" | ")} |`);
    }
    out.push("");
  }
  out.push(
    "Written by OpsConductor. `run.json` holds the same facts for machines; `targets/` holds each target's log.",
    "",
  );
  return out.join("\n");
}

function sourceOf(summary: RunSummary): string {
  if (summary.sourceCommit) return code(summary.sourceCommit);
  const base = summary.dirtyTree?.base;
  return base ? `working tree with uncommitted changes, on ${code(base)}` : "working tree (uncommitted)";
}
