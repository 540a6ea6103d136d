/**
 * Partial runs: `--tags`, `--skip-tags` and `--start-at` mark each planned step
 * selected or not, with the reason, so the plan and the record say why a step
 * did or did not run. As in Ansible, a step tagged `always` runs whatever
 * `--tags` says (unless `--skip-tags always`); handlers are not selected by
 * tags: they run when a selected step notifies them.
 */
import type { PlannedPhase, PlannedStep, StepSelection } from "../core/plan-model.js";

export const ALWAYS_TAG = "always";

export interface SelectionProblem {
  code: string;
  message: string;
  hint: string;
}

function names(step: PlannedStep, startAt: string): boolean {
  return step.id === startAt || step.id.startsWith(`${startAt}/`);
}

export function selectSteps(phases: PlannedPhase[], selection: StepSelection): SelectionProblem | null {
  const { tags, skipTags, startAt } = selection;
  let started = startAt === undefined;
  for (const phase of phases) {
    for (const step of phase.steps) {
      if (!started && startAt !== undefined && names(step, startAt)) started = true;
      step.selection = decide(step, started, tags, skipTags, startAt);
    }
  }
  if (!started) {
    const ids = phases.flatMap((p) => p.steps.map((s) => s.id));
    return {
      code: "plan.unknown-start-at",
      message: `--start-at ${startAt}: the job has no step with this id`,
      hint: `its steps: ${ids.join(", ")}`,
    };
  }
  return null;
}

function decide(
  step: PlannedStep,
  started: boolean,
  tags: string[],
  skipTags: string[],
  startAt: string | undefined,
): { selected: boolean; reason: string } {
  if (!started) return { selected: false, reason: `before --start-at ${startAt}` };
  const own = step.tags ?? [];
  const skipped = own.find((t) => skipTags.includes(t));
  if (skipped !== undefined) return { selected: false, reason: `tag ${skipped} is in --skip-tags` };
  if (tags.length > 0) {
    const hit = own.find((t) => tags.includes(t));
    if (hit !== undefined) return { selected: true, reason: `tag ${hit} is in --tags` };
    if (own.includes(ALWAYS_TAG)) return { selected: true, reason: "tagged always" };
    return {
      selected: false,
      reason: own.length
        ? `none of its tags (${own.join(", ")}) is in --tags`
        : "it has no tags and --tags was given",
    };
  }
  if (startAt !== undefined) return { selected: true, reason: `at or after --start-at ${startAt}` };
  return { selected: true, reason: "not in --skip-tags" };
}
