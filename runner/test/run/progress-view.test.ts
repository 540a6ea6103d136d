import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

  it("shows no failure tail for a step that fails once and then succeeds on retry", async () => {
    const dir = mkdtempSync(join(tmpdir(), "opsc-retry-view-"));
    try {
      const p = simplePlan(
        [localTarget("alpha")],
        [
          step("flaky", {
            // The first attempt leaves a mark and fails; the second finds it and succeeds.
            run: `if [ -e "${dir}/seen" ]; then echo "second try fine"; else : >"${dir}/seen"; echo "first try broke"; exit 3; fi`,
            retry: { attempts: 2, delayMs: 0 },
          }),
          step("boom", { run: 'echo "boom tail"; exit 4' }),
        ],
      );
      let text = "";
      const view = new ProgressView(p, { write: (s) => (text += s), live: false, columns: 80 });
      const out = await runPlan(p, {
        transportFor: (t) => new LocalTransport(t.name),
        redactor: new Redactor(),
        listeners: [view.listener],
      });
      view.finish(out);
      expect(out.targets[0]!.steps.map((s) => [s.id, s.outcome, s.attempts])).toEqual([
        ["flaky", "changed", 2],
        ["boom", "failed", 1],
      ]);
      expect(text).toMatch(/alpha flaky: failed in \d+ms \(exit code 3\) \[attempt 1 of 2\]/);
      expect(text).toMatch(/alpha flaky: changed in \d+ms \[attempt 2 of 2\]/);
      // Only the step that really failed gets a tail, and the retried step's old output is gone.
      expect(text).toContain("── alpha boom: exit code 4\n   boom tail");
      expect(text).not.toContain("── alpha flaky");
      expect(text).not.toContain("first try broke");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("writes plain lines in one batch per turn, every line in order, before the summary", async () => {
    const names = ["alpha", "beta", "gamma", "delta"];
    const p = simplePlan(
      names.map((n) => localTarget(n)),
      [step("one", { run: "true" }), step("two", { run: "true" })],
    );
    const writes: string[] = [];
    const view = new ProgressView(p, { write: (s) => writes.push(s), live: false, columns: 80 });
    const at = new Date().toISOString();
    // Events delivered in one turn of the event loop, as a fast fan-out does.
    for (const target of names) {
      view.listener({ type: "target.started", at, target, phase: "main" });
      for (const s of ["one", "two"]) {
        view.listener({ type: "step.started", at, target, step: s, attempt: 1 });
        view.listener({
          type: "step.finished",
          at,
          target,
          step: s,
          outcome: "changed",
          ms: 3,
          attempt: 1,
          outputs: {},
        });
      }
      view.listener({ type: "target.finished", at, target, outcome: "changed", ms: 6 });
    }
    expect(writes).toEqual([]);
    await new Promise((r) => setTimeout(r, 150));
    expect(writes).toHaveLength(1);
    const lines = writes[0]!.split("\n").filter((l) => l !== "");
    expect(lines.map((l) => l.replace(/^\[\d+ms\] /, ""))).toEqual(
      names.flatMap((n) => [`${n} one: changed in 3ms`, `${n} two: changed in 3ms`, `${n}: changed`]),
    );
    // Lines still pending when the run ends are written before the summary.
    view.listener({ type: "step.started", at, target: "alpha", step: "one", attempt: 2 });
    view.finish({
      runId: "r1",
      result: "success",
      ms: 10,
      counts: { ok: 0, changed: 4, failed: 0, unreachable: 0, skipped: 0, timed_out: 0, cancelled: 0 },
      targets: [],
    });
    expect(writes[1]).toMatch(/^\[\d+ms\] alpha one: attempt 2\n$/);
    expect(writes[2]).toMatch(/success: 4 changed in 10ms \(run r1\)/);
  });
});
