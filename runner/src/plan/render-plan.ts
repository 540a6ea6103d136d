/**
 * A plan for people (text, markdown) and machines (json). Pure. The text shows
 * exactly what will run where; scripts are shown in full because reviewers
 * approve those, env values only by name when they come from secrets.
 */
import type { Plan, PlannedStep } from "../core/plan-model.js";
import { DEFAULT_LOCK_WAIT_MS } from "../core/repo-model.js";

export type PlanFormat = "text" | "json" | "markdown";

/** For a job with `approval:`: who has signed this plan hash so far, or why that is not known. */
export type ApprovalView = { signers: string[] } | { unknown: string };

export function renderPlan(plan: Plan, format: PlanFormat, approval?: ApprovalView): string {
  switch (format) {
    case "json":
      return JSON.stringify(approval ? { ...plan, approvalStatus: approval } : plan, null, 2) + "\n";
    case "markdown":
      return renderMarkdown(plan, approval);
    case "text":
      return renderText(plan, approval);
  }
}

function approvalLine(plan: Plan, approval: ApprovalView | undefined): string | undefined {
  if (!plan.approval) return undefined;
  const need = `${plan.approval.required} signer(s) from ${plan.approval.signers}`;
  if (!approval) return `needs ${need}`;
  if ("unknown" in approval) return `needs ${need}; signed: unknown (${approval.unknown})`;
  const who = approval.signers.length ? ` (${approval.signers.join(", ")})` : "";
  const ready = approval.signers.length >= plan.approval.required ? ": approved" : "";
  return `needs ${need}; signed by ${approval.signers.length} of ${plan.approval.required}${who}${ready}`;
}

function stepKind(step: PlannedStep): string {
  const flags = [
    step.copy
      ? `${step.copy.template ? "template" : "copy"} ${step.copy.src} -> ${step.copy.dest}`
      : step.uses
        ? `uses ${step.uses}`
        : "run",
    step.check ? "check" : "",
    step.if ? `if ${step.if}` : "",
    step.sudo ? "sudo" : "",
    step.retry ? `retry ${step.retry.attempts}x` : "",
    step.timeoutMs !== undefined ? `timeout ${formatMs(step.timeoutMs)}` : "",
    step.continueOnError ? "continue-on-error" : "",
    step.tags?.length ? `tags ${step.tags.join(",")}` : "",
    step.notify?.length ? `notify ${step.notify.join(",")}` : "",
  ].filter(Boolean);
  return flags.join(", ");
}

export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** The job's `locks:` policy in words (the default when the plan has none). */
export function lockText(plan: Plan): string {
  const locks = plan.locks ?? { policy: "wait", waitMs: DEFAULT_LOCK_WAIT_MS };
  return locks.policy === "skip"
    ? "skip a target another run holds"
    : `wait up to ${formatMs(locks.waitMs)} for a target another run holds`;
}

function targetCount(plan: Plan): number {
  return Object.keys(plan.targets).length;
}

function renderText(plan: Plan, approval?: ApprovalView): string {
  const lines: string[] = [];
  lines.push(`Job ${plan.job}${plan.description ? `: ${plan.description}` : ""}`);
  lines.push(
    `  trigger ${plan.trigger.kind} by ${plan.trigger.actor}${plan.commit ? ` at ${plan.commit.slice(0, 12)}` : ""}` +
      (plan.checkMode ? " (check mode: nothing changes)" : "") +
      (plan.shard ? ` (shard ${plan.shard.index}/${plan.shard.count})` : ""),
  );
  const inputs = Object.entries(plan.inputs);
  if (inputs.length) lines.push(`  inputs ${inputs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")}`);
  const secrets = Object.entries(plan.secrets);
  if (secrets.length) lines.push(`  secrets ${secrets.map(([k, ref]) => `${k} <- ${ref}`).join(", ")}`);
  lines.push(`  ${targetCount(plan)} target(s), ${plan.phases.length} phase(s)`);
  lines.push(`  locks: ${lockText(plan)}`);
  if (plan.planHash) lines.push(`  plan hash ${plan.planHash}`);
  const approvalText = approvalLine(plan, approval);
  if (approvalText) lines.push(`  approval ${approvalText}`);
  for (const phase of plan.phases) {
    lines.push("");
    lines.push(
      `Phase ${phase.name}: ${phase.targets.length} target(s) in ${phase.batches.length} batch(es), ` +
        `parallel ${phase.parallel}, max failures ${phase.maxFailures}`,
    );
    phase.batches.forEach((batch, i) => lines.push(`  batch ${i + 1}: ${batch.join(", ")}`));
    for (const step of phase.steps) {
      const mark = step.selection ? (step.selection.selected ? "+" : "x") : "-";
      lines.push(`  ${mark} ${step.id} (${stepKind(step)})`);
      if (step.selection)
        lines.push(
          `      ${step.selection.selected ? "selected" : "not selected"}: ${step.selection.reason}`,
        );
      const envNames = Object.keys(step.env);
      if (envNames.length) lines.push(`      env: ${envNames.join(", ")}`);
    }
    if (phase.handlers?.length) {
      lines.push("  handlers (run once per target at the end of the phase when notified):");
      for (const step of phase.handlers) lines.push(`  - ${step.id} (${stepKind(step)})`);
    }
  }
  return lines.join("\n") + "\n";
}

function renderMarkdown(plan: Plan, approval?: ApprovalView): string {
  const lines: string[] = [];
  lines.push(`### Plan: \`${plan.job}\``);
  if (plan.description) lines.push("", plan.description);
  lines.push(
    "",
    `${targetCount(plan)} target(s), ${plan.phases.length} phase(s), trigger \`${plan.trigger.kind}\`.`,
    "",
    `Locks: ${lockText(plan)}.`,
  );
  if (plan.planHash) lines.push("", `Plan hash \`${plan.planHash}\``);
  const approvalText = approvalLine(plan, approval);
  if (approvalText) lines.push("", `Approval: ${approvalText}.`);
  for (const phase of plan.phases) {
    lines.push("", `#### Phase \`${phase.name}\``, "");
    lines.push(
      `Targets (${phase.targets.length}, ${phase.batches.length} batch(es), parallel ${phase.parallel}):`,
    );
    lines.push(phase.targets.map((t) => `\`${t}\``).join(", ") || "_none_");
    lines.push("", "| step | what |", "| --- | --- |");
    for (const step of phase.steps) {
      const why = step.selection
        ? ` (${step.selection.selected ? "selected" : "**not selected**"}: ${step.selection.reason})`
        : "";
      lines.push(`| \`${step.id}\` | ${(stepKind(step) + why).replace(/\|/g, "\\|")} |`);
    }
  }
  return lines.join("\n") + "\n";
}
