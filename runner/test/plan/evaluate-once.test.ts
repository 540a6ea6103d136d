/**
 * Expressions are evaluated once; their results are data, never templates
 * again. Plans come from the real loader and planner and run on the local
 * target, so what is asserted is what a script really receives.
 */
import { describe, expect, it } from "vitest";
import type { Trigger } from "../../src/core/plan-model.js";
import type { RunEvent } from "../../src/core/run-events.js";
import { buildPlan, type PlanRequest } from "../../src/plan/build-plan.js";
import { runPlan } from "../../src/run/run-plan.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { LocalTransport } from "../../src/transports/local-transport.js";
import { modelFrom } from "../helpers/automation-repo.js";

const webhook: Trigger = { kind: "webhook", actor: "webhook:d-1" };
const HOSTILE = "${{ run.id }}/${{ toJSON(target.labels) }}";

const FILES = {
  "targets/local.yaml":
    "targets:\n  here: { transport: local, labels: { secret_label: planted-label }, vars: { app: 'Bad App' } }\n",
  "steps/greet.yaml": [
    "inputs:",
    "  who: { type: string, minLength: 1 }",
    "run: |",
    '  printf "who=%s\\n" "$INPUT_WHO"',
    "",
  ].join("\n"),
  "steps/user.yaml": [
    "inputs:",
    "  username: { type: string, pattern: '^[a-z][a-z0-9_]*$' }",
    "run: |",
    '  printf "user=%s\\n" "$INPUT_USERNAME"',
    "",
  ].join("\n"),
  "steps/pair.yaml": [
    "inputs:",
    "  first: { type: string }",
    "  second: { type: string }",
    "steps:",
    "  - id: show",
    "    run: |",
    '      printf "first=%s second=%s both=%s\\n" "$INPUT_FIRST" "$INPUT_SECOND" "$BOTH"',
    '    env: { BOTH: "${{ inputs.first }}+${{ inputs.second }}" }',
    "  - id: only-first-here",
    "    if: inputs.second == 'here'",
    '    run: echo "second is here"',
    "",
  ].join("\n"),
};

function job(steps: string, inputs = "  who: { type: string }"): string {
  return `on: { manual: true, webhook: {} }\ninputs:\n${inputs}\ntargets: { names: [here] }\nsteps:\n${steps}`;
}

async function run(files: Record<string, string>, request: Omit<PlanRequest, "job" | "trigger">) {
  const model = modelFrom({ ...FILES, ...files });
  const { plan, diagnostics } = buildPlan(model, { job: "j", trigger: webhook, ...request });
  expect(diagnostics).toEqual([]);
  const events: RunEvent[] = [];
  const outcome = await runPlan(plan!, {
    transportFor: (t) => new LocalTransport(t.name),
    redactor: new Redactor(),
    listeners: [(e) => events.push(e)],
    runId: "RUN-ID-1",
  });
  const stdout = events
    .filter((e): e is Extract<RunEvent, { type: "step.output" }> => e.type === "step.output")
    .filter((e) => e.stream === "stdout")
    .map((e) => e.line);
  return { plan: plan!, outcome, stdout };
}

describe("expressions are evaluated once", () => {
  it("an input that looks like an expression reaches a library step as text", async () => {
    const { outcome, stdout } = await run(
      { "jobs/j.yaml": job('  - id: g\n    uses: greet\n    with: { who: "${{ inputs.who }}" }\n') },
      { inputs: { who: HOSTILE } },
    );
    expect(outcome.result).toBe("success");
    expect(stdout).toEqual([`who=${HOSTILE}`]);
    expect(stdout.join("\n")).not.toContain("RUN-ID-1");
    expect(stdout.join("\n")).not.toContain("planted-label");
  });

  it("...and through env, whole or spliced next to a run-time expression", async () => {
    const steps = [
      "  - id: e",
      '    run: printf "%s|%s|%s\\n" "$WHOLE" "$MIXED" "$TARGET"',
      "    env:",
      '      WHOLE: "${{ inputs.who }}"',
      '      MIXED: "<${{ inputs.who }}> on ${{ target.name }}"',
      '      TARGET: "${{ target.name }}$"',
      "",
    ].join("\n");
    const { outcome, stdout } = await run({ "jobs/j.yaml": job(steps) }, { inputs: { who: HOSTILE } });
    expect(outcome.result).toBe("success");
    expect(stdout).toEqual([`${HOSTILE}|<${HOSTILE}> on here|here$`]);
  });

  it("a value of any type reaches the script as its text", async () => {
    const steps = [
      "  - id: e",
      '    run: printf "%s|%s|%s|%s\\n" "$COUNT" "$FLAG" "$LIST" "$MAP"',
      "    env:",
      '      COUNT: "${{ inputs.count }}"',
      '      FLAG: "${{ inputs.flag }}"',
      '      LIST: "${{ inputs.list }}"',
      '      MAP: "${{ target.labels }}"',
      "",
    ].join("\n");
    const inputs = [
      "  count: { type: integer }",
      "  flag: { type: boolean }",
      "  list: { type: array, items: { type: string } }",
    ].join("\n");
    const { outcome, stdout } = await run(
      { "jobs/j.yaml": job(steps, inputs) },
      { inputs: { count: 3, flag: false, list: ["a", "b"] } },
    );
    expect(outcome.targets[0]!.steps[0]).toMatchObject({ outcome: "changed" });
    expect(stdout).toEqual(['3|false|["a","b"]|{"secret_label":"planted-label"}']);
  });

  it("a composite's children read its inputs, run-time ones evaluated once on the target", async () => {
    const steps = [
      "  - id: p",
      "    uses: pair",
      '    with: { first: "${{ inputs.who }}", second: "${{ target.name }}" }',
      "",
    ].join("\n");
    const { outcome, stdout } = await run({ "jobs/j.yaml": job(steps) }, { inputs: { who: HOSTILE } });
    expect(outcome.result).toBe("success");
    expect(stdout).toEqual([`first=${HOSTILE} second=here both=${HOSTILE}+here`, "second is here"]);
  });
});

describe("library-step inputs are checked after rendering", () => {
  const userJob = (value: string) =>
    job(`  - id: u\n    uses: user\n    with: { username: "${value}" }\n`, "  app: { type: string }");

  it("at plan time when the value is known, at the step's position", () => {
    const model = modelFrom({ ...FILES, "jobs/j.yaml": userJob("${{ inputs.app }}_rw") });
    const { plan, diagnostics } = buildPlan(model, {
      job: "j",
      trigger: webhook,
      inputs: { app: "Bad App" },
    });
    expect(plan).toBeUndefined();
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({
      file: "jobs/j.yaml",
      line: 6,
      code: "plan.invalid-step-input",
    });
    expect(diagnostics[0]!.message).toContain('input "username" of "user" is "Bad App_rw"');
    expect(diagnostics[0]!.message).toContain("must match pattern");

    const empty = modelFrom({
      ...FILES,
      "jobs/j.yaml": job('  - id: g\n    uses: greet\n    with: { who: "${{ inputs.who }}" }\n'),
    });
    const none = buildPlan(empty, { job: "j", trigger: webhook, inputs: { who: "" } });
    expect(none.diagnostics.map((d) => d.code)).toEqual(["plan.invalid-step-input"]);
    expect(none.diagnostics[0]!.message).toContain("must NOT have fewer than 1 characters");
  });

  it("on the target before the step starts when it reads run-time contexts", async () => {
    const files = { ...FILES, "jobs/j.yaml": userJob("${{ target.vars.app }}_rw") };
    const { outcome, stdout } = await run(files, { inputs: { app: "x" } });
    expect(outcome.result).toBe("failure");
    expect(outcome.targets[0]).toMatchObject({ name: "here", outcome: "failed" });
    expect(outcome.targets[0]!.steps[0]!.reason).toMatch(
      /^input "username" is "Bad App_rw": must match pattern/,
    );
    expect(stdout).toEqual([]);

    const good = { ...FILES, "jobs/j.yaml": userJob("${{ target.name }}_rw") };
    expect((await run(good, { inputs: { app: "x" } })).stdout).toEqual(["user=here_rw"]);
  });
});
