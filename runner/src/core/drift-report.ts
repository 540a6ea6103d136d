/**
 * What a drift check found, built from a check-mode run (its plan, its
 * summary and the output lines of its steps) without any I/O, and rendered as
 * the two files of a drift branch commit: drift.json for tools, drift.md for
 * people. Every line taken from the run has already passed the run's redactor;
 * the writer masks the rendered text once more.
 */
import type { Plan } from "./plan-model.js";
import type { TargetOutcome } from "./run-events.js";
import type { RunSummary } from "./run-summary.js";

/** Version of drift.json; bumped only when a field changes meaning or goes away. */
export const DRIFT_REPORT_VERSION = 1;

/** `drift`: something would change; `clean`: every target checked and nothing would; `incomplete`: no drift seen, but a target could not be checked. */
export type DriftStatus = "drift" | "clean" | "incomplete";

export interface DriftFile {
  /** Destination path on the target. */
  path: string;
  /** What would change: `created`, `content`, `mode 600 -> 644`, ... */
  change: string;
  /** Unified diff; absent for secret content and for changes of mode or owners only. */
  diff?: string;
  /** The file's content is secret: its diff is never shown. */
  secret?: boolean;
}

export interface DriftStep {
  id: string;
  /** `would change`, or why it failed. */
  reason?: string;
  /** For copy and template steps: each file that would change. */
  files?: DriftFile[];
  /** For script steps: what their check printed (masked), at most MAX_OUTPUT_LINES. */
  output?: string[];
}

export interface DriftTarget {
  name: string;
  /** `drift` when a step would change; `error` when the target could not be checked fully. */
  status: "drift" | "clean" | "error";
  outcome: TargetOutcome;
  reason?: string;
  /** Steps that would change (or failed). */
  steps: DriftStep[];
  /** Steps not checked: they have no `check` script (check mode runs nothing else). */
  unchecked: string[];
}

export interface DriftReport {
  version: number;
  job: string;
  status: DriftStatus;
  checkedAt: string;
  /** The run (check mode) whose record is on the records branch. */
  runId: string;
  sourceCommit?: string;
  trigger: { kind: string; actor: string };
  inputs: Record<string, unknown>;
  counts: { drift: number; clean: number; error: number };
  targets: DriftTarget[];
}

export interface DriftInput {
  plan: Pick<Plan, "phases">;
  summary: RunSummary;
  /** Output lines per target and step, as the run emitted them (already masked). */
  output: (target: string, step: string) => string[];
}

const MAX_OUTPUT_LINES = 50;
const NO_CHECK = "no check script";
/** A copy step's line naming a file that would change: `/etc/app.conf: would change (content)`. */
const FILE_LINE = /^(\/.*): would change \((.*)\)$/;
const SECRET_LINE = /^(\/.*): diff not shown \(secret content\)$/;

export function buildDriftReport({ plan, summary, output }: DriftInput): DriftReport {
  const copySteps = new Set<string>();
  for (const phase of plan.phases)
    for (const step of phase.steps) if (step.copy) copySteps.add(`${phase.name}\0${step.id}`);
  const targets: DriftTarget[] = summary.targets.map((t) => {
    const steps: DriftStep[] = [];
    const unchecked: string[] = [];
    let failed = !["ok", "changed", "skipped"].includes(t.outcome);
    for (const s of t.steps) {
      if (s.outcome === "skipped" && s.reason?.startsWith(NO_CHECK)) unchecked.push(s.id);
      if (s.outcome === "failed" || s.outcome === "timed_out" || s.outcome === "cancelled") {
        failed = true;
        steps.push({ id: s.id, ...(s.reason ? { reason: s.reason } : {}) });
      }
      if (s.outcome !== "changed") continue;
      const lines = output(t.name, s.id);
      steps.push({
        id: s.id,
        ...(s.reason ? { reason: s.reason } : {}),
        ...(copySteps.has(`${t.phase}\0${s.id}`)
          ? { files: parseCopyOutput(lines) }
          : lines.length > 0
            ? { output: lines.slice(0, MAX_OUTPUT_LINES) }
            : {}),
      });
    }
    const drift = t.steps.some((s) => s.outcome === "changed");
    return {
      name: t.name,
      status: drift ? "drift" : failed ? "error" : "clean",
      outcome: t.outcome,
      ...(t.reason ? { reason: t.reason } : {}),
      steps,
      unchecked,
    };
  });
  const count = (s: DriftTarget["status"]) => targets.filter((t) => t.status === s).length;
  const counts = { drift: count("drift"), clean: count("clean"), error: count("error") };
  const anyError = counts.error > 0 || summary.result !== "success";
  return {
    version: DRIFT_REPORT_VERSION,
    job: summary.job,
    status: counts.drift > 0 ? "drift" : anyError ? "incomplete" : "clean",
    checkedAt: summary.finishedAt,
    runId: summary.id,
    ...(summary.sourceCommit ? { sourceCommit: summary.sourceCommit } : {}),
    trigger: { kind: summary.trigger.kind, actor: summary.trigger.actor },
    inputs: summary.inputs,
    counts,
    targets,
  };
}

/** Splits a copy step's check-mode output into files: a header line per file, then its diff. */
export function parseCopyOutput(lines: string[]): DriftFile[] {
  const files: DriftFile[] = [];
  let current: (DriftFile & { diffLines: string[] }) | undefined;
  const close = (): void => {
    if (!current) return;
    const { diffLines, ...file } = current;
    files.push(diffLines.length > 0 && !file.secret ? { ...file, diff: `${diffLines.join("\n")}\n` } : file);
    current = undefined;
  };
  for (const line of lines) {
    const header = FILE_LINE.exec(line);
    if (header) {
      close();
      current = { path: header[1]!, change: header[2]!, diffLines: [] };
      continue;
    }
    if (!current) continue;
    if (SECRET_LINE.test(line)) current.secret = true;
    else current.diffLines.push(line);
  }
  close();
  return files;
}

export function renderDriftJson(report: DriftReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

export function driftHeadline(report: DriftReport): string {
  const total = report.targets.length;
  switch (report.status) {
    case "drift":
      return `${report.job}: drift on ${report.counts.drift} of ${total} target(s): ${report.targets
        .filter((t) => t.status === "drift")
        .map((t) => t.name)
        .join(", ")}`;
    case "clean":
      return `${report.job}: clean: nothing would change on ${total} target(s)`;
    case "incomplete":
      return `${report.job}: no drift seen, but ${report.counts.error} of ${total} target(s) could not be checked`;
  }
}

/** A fence longer than any run of backticks in the text, so a diff cannot close it. */
function fence(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  return "`".repeat(Math.max(3, longest + 1));
}

export function renderDriftMarkdown(report: DriftReport): string {
  const out: string[] = [`# Drift: ${report.job}`, "", `**${report.status}**: ${driftHeadline(report)}`, ""];
  out.push(`- Checked: ${report.checkedAt}`);
  if (report.sourceCommit) out.push(`- Commit: \`${report.sourceCommit}\``);
  out.push(`- Check run: \`${report.runId}\` (its record is on the records branch)`);
  out.push(`- Trigger: ${report.trigger.kind} by ${report.trigger.actor}`);
  out.push("", "| target | status | steps that would change |", "| --- | --- | --- |");
  for (const t of report.targets) {
    const steps = t.status === "error" ? (t.reason ?? t.outcome) : t.steps.map((s) => s.id).join(", ");
    out.push(`| ${t.name} | ${t.status} | ${steps.replace(/\|/g, "\\|")} |`);
  }
  for (const t of report.targets.filter((x) => x.status !== "clean")) {
    out.push("", `## ${t.name}: ${t.status}`);
    if (t.reason) out.push("", t.reason);
    for (const s of t.steps) {
      out.push("", `### step \`${s.id}\`${s.reason ? `: ${s.reason}` : ""}`);
      for (const f of s.files ?? []) {
        out.push("", `- \`${f.path}\`: ${f.change}${f.secret ? " (secret content: diff not shown)" : ""}`);
        if (f.diff) {
          const f3 = fence(f.diff);
          out.push("", `${f3}diff`, f.diff.trimEnd(), f3);
        }
      }
      if (s.output && s.output.length > 0) {
        const text = s.output.join("\n");
        const f3 = fence(text);
        out.push("", f3, text, f3);
      }
    }
  }
  const unchecked = report.targets.filter((t) => t.unchecked.length > 0);
  if (unchecked.length > 0) {
    out.push("", "## Not checked", "", "Steps without a `check` script are not run in check mode:", "");
    for (const t of unchecked) out.push(`- ${t.name}: ${t.unchecked.join(", ")}`);
  }
  return `${out.join("\n")}\n`;
}

/** For a terminal: the headline, one line per target, then what would change where. */
export function renderDriftText(report: DriftReport): string {
  const out: string[] = [driftHeadline(report), ""];
  const width = Math.max(6, ...report.targets.map((t) => t.name.length));
  for (const t of report.targets) {
    const what = t.status === "error" ? (t.reason ?? t.outcome) : t.steps.map((s) => s.id).join(", ");
    out.push(`  ${t.name.padEnd(width)}  ${t.status.padEnd(5)}  ${what}`.trimEnd());
  }
  for (const t of report.targets.filter((x) => x.status === "drift")) {
    for (const s of t.steps) {
      out.push("", `${t.name} / ${s.id}${s.reason ? `: ${s.reason}` : ""}`);
      for (const f of s.files ?? []) {
        out.push(`  ${f.path}: ${f.change}${f.secret ? " (secret content: diff not shown)" : ""}`);
        if (f.diff)
          out.push(
            ...f.diff
              .trimEnd()
              .split("\n")
              .map((l) => `    ${l}`),
          );
      }
      for (const l of s.output ?? []) out.push(`    ${l}`);
    }
  }
  // "clean" says nothing of steps that were never looked at: name them, as the markdown does.
  const unchecked = report.targets.filter((t) => t.unchecked.length > 0);
  if (unchecked.length > 0) {
    out.push("", "not checked (no `check` script, not run in check mode):");
    for (const t of unchecked) out.push(`  ${t.name.padEnd(width)}  ${t.unchecked.join(", ")}`);
  }
  return `${out.join("\n")}\n`;
}
