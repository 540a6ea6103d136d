import { describe, expect, it } from "vitest";
import { ProgressView } from "../../src/app/progress-view.js";
import { runPlan } from "../../src/run/run-plan.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { LocalTransport } from "../../src/transports/local-transport.js";
import { localTarget, simplePlan, step } from "../helpers/plan-fixture.js";

async function render(live: boolean, showOutput = false): Promise<string> {
  let text = "";
  const p = simplePlan(
    [localTarget("alpha"), localTarget("beta")],
    [
      step("hello", { run: 'echo "hi from $T"', env: { T: "${{ target.name }}" } }),
      step("maybe-fail", {
        run: '[ "$T" = alpha ] || { echo "broke on $T"; exit 2; }',
        env: { T: "${{ target.name }}" },
      }),
    ],
  );
  const view = new ProgressView(p, { write: (s) => (text += s), live, columns: 80, showOutput });
  const out = await runPlan(p, {
    transportFor: (t) => new LocalTransport(t.name),
    redactor: new Redactor(),
    listeners: [view.listener],
  });
  view.finish(out);
  return text;
}

describe("ProgressView", () => {
  it("prints plain lines, the failed step's output and a summary table", async () => {
    const text = await render(false);
    expect(text).toMatch(/\] beta maybe-fail: failed in \d+ms \(exit code 2\)/);
    expect(text).toMatch(/\] beta: failed \(step maybe-fail: exit code 2\)/);
    expect(text).toContain("── beta maybe-fail: exit code 2\n   broke on beta");
    expect(text).not.toContain("hi from alpha");
    expect(text).toMatch(
      /TARGET +OUTCOME +TIME +STEPS\nalpha +changed +\d+ms +●hello ●maybe-fail\nbeta +failed +\d+ms +●hello ✗maybe-fail/,
    );
    expect(text).toMatch(/failure: 1 changed, 1 failed in \d+ms \(run \d{8}T\d{6}Z-test-job-[0-9a-f]{4}\)/);
    expect(text).not.toContain("\x1b[");
  });

  it("prints every output line when asked", async () => {
    const text = await render(false, true);
    expect(text).toContain("alpha hello | hi from alpha");
  });

  it("redraws a live board in place on a terminal", async () => {
    const text = await render(true);
    expect(text).toContain("\x1b[2K");
    expect(text).toContain("  steps: hello maybe-fail");
    expect(text).toMatch(/test-job +phase main +\d+ms +changed 1 +failed 1/);
    expect(text).toMatch(/ {2}beta +●✗ +failed/);
  });
});
