/**
 * The job's `locks:` field: read from YAML (default `{ wait: 10m }`), carried
 * into the plan, shown by `opsc plan`, and refused with a position when it
 * is neither `skip` nor `{ wait: <duration> }`.
 */
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan/build-plan.js";
import { renderPlan } from "../../src/plan/render-plan.js";
import { modelFrom } from "../helpers/automation-repo.js";
import { brief, load } from "../repo/helpers.js";

const jobFile = (locks: string) =>
  `${locks}targets: { names: [here] }\nsteps:\n  - id: s\n    run: "echo hi"\n`;

function planOf(locks: string) {
  const model = modelFrom({ "jobs/j.yaml": jobFile(locks) });
  const { plan, diagnostics } = buildPlan(model, {
    job: "j",
    trigger: { kind: "manual", actor: "tester" },
  });
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return plan!;
}

describe("locks: in a job", () => {
  it("waits 10 minutes by default, and the plan says so in text, markdown and JSON", () => {
    const plan = planOf("");
    expect(plan.locks).toEqual({ policy: "wait", waitMs: 600_000 });
    expect(renderPlan(plan, "text")).toContain("  locks: wait up to 10m for a target another run holds\n");
    expect(renderPlan(plan, "markdown")).toContain("Locks: wait up to 10m for a target another run holds.");
    expect(JSON.parse(renderPlan(plan, "json"))).toMatchObject({
      locks: { policy: "wait", waitMs: 600_000 },
    });
  });

  it("takes a wait as a duration, or skip", () => {
    expect(planOf("locks: { wait: 90s }\n").locks).toEqual({ policy: "wait", waitMs: 90_000 });
    const skip = planOf("locks: skip\n");
    expect(skip.locks).toEqual({ policy: "skip" });
    expect(renderPlan(skip, "text")).toContain("  locks: skip a target another run holds\n");
  });

  it("refuses anything else at the field, saying what it takes", () => {
    const cases: Array<[string, string, RegExp]> = [
      ["locks: wait\n", "jobs/j.yaml:1:8 schema.pattern", /`locks` has an invalid value "wait"/],
      ["locks: { wait: forever }\n", "jobs/j.yaml:1:16 schema.pattern", /`locks.wait` has an invalid value/],
      [
        "locks: { wait: 5m, for: me }\n",
        "jobs/j.yaml:1:20 schema.unknown-property",
        /unknown property `for`/,
      ],
    ];
    for (const [bad, where, message] of cases) {
      const { diagnostics } = load({ "jobs/j.yaml": jobFile(bad) });
      const errors = diagnostics.filter((d) => d.severity === "error");
      expect(errors.map(brief), bad).toEqual([where]);
      expect(errors[0]!.message).toMatch(message);
    }
  });
});
