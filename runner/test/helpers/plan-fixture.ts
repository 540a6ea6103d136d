/** Builds Plan objects directly, so engine tests do not depend on the repository loader or planner. */
import type { Plan, PlannedPhase, PlannedStep, PlannedTarget } from "../../src/core/plan-model.js";

export function step(id: string, fields: Partial<PlannedStep> = {}): PlannedStep {
  return { id, name: id, env: {}, sudo: false, continueOnError: false, ...fields };
}

export function localTarget(name: string, fields: Partial<PlannedTarget> = {}): PlannedTarget {
  return { name, transport: "local", port: 22, hostKeys: [], shell: "sh", labels: {}, vars: {}, ...fields };
}

export function phase(
  name: string,
  targets: string[],
  steps: PlannedStep[],
  fields: Partial<PlannedPhase> = {},
): PlannedPhase {
  return { name, targets, batches: [targets], parallel: 10, maxFailures: 0, steps, ...fields };
}

export function plan(targets: PlannedTarget[], phases: PlannedPhase[], fields: Partial<Plan> = {}): Plan {
  return {
    job: "test-job",
    trigger: { kind: "manual", actor: "tester" },
    inputs: {},
    targets: Object.fromEntries(targets.map((t) => [t.name, t])),
    phases,
    env: {},
    secrets: {},
    checkMode: false,
    ...fields,
  };
}

/** A one-phase plan over the given targets. */
export function simplePlan(targets: PlannedTarget[], steps: PlannedStep[], fields: Partial<Plan> = {}): Plan {
  return plan(
    targets,
    [
      phase(
        "main",
        targets.map((t) => t.name),
        steps,
      ),
    ],
    fields,
  );
}
