import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/core/run-events.js";
import { runPlan, type RunOptions } from "../../src/run/run-plan.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { LocalTransport } from "../../src/transports/local-transport.js";
import { localTarget, phase, plan, simplePlan, step } from "../helpers/plan-fixture.js";

const scratch = mkdtempSync(join(tmpdir(), "opsc-run-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function options(extra: Partial<RunOptions> = {}): RunOptions & { events: RunEvent[] } {
  const events: RunEvent[] = [];
  return {
    transportFor: (t) => new LocalTransport(t.name),
    redactor: new Redactor(),
    listeners: [(e) => events.push(e)],
    events,
    ...extra,
  };
}

function lines(events: RunEvent[], target: string, stepId: string): string[] {
  return events
    .filter((e): e is Extract<RunEvent, { type: "step.output" }> => e.type === "step.output")
    .filter((e) => e.target === target && e.step === stepId && e.stream === "stdout")
    .map((e) => e.line);
}

describe("runPlan on local targets", () => {
  it("fails a sudo step on a target that does not allow sudo, before running anything", async () => {
    const o = options();
    const marker = join(scratch, "sudo-ran");
    const p = simplePlan(
      [localTarget("a", { sudo: { enabled: false } })],
      [step("root", { run: `touch ${marker}`, sudo: true })],
    );
    const out = await runPlan(p, o);
    expect(out.result).toBe("failure");
    expect(out.targets[0]!.steps[0]).toMatchObject({
      outcome: "failed",
      reason: "step needs sudo, but target a has sudo.enabled: false",
    });
    expect(existsSync(marker)).toBe(false);
  });

  it("passes outputs between steps, and a step's stdout cannot forge them", async () => {
    const o = options();
    const p = simplePlan(
      [localTarget("a")],
      [
        step("make", {
          run: 'echo "version=1.2.3" >>"$OPSC_OUTPUT"\necho "name=forged"\necho "changed=false" >>"$OPSC_OUTPUT"',
        }),
        step("use", {
          run: 'echo "got $V"',
          env: { V: "${{ steps.make.outputs.version }}-${{ steps.make.outputs.name }}" },
        }),
      ],
    );
    const out = await runPlan(p, o);
    expect(out.result).toBe("success");
    const steps = out.targets[0]!.steps;
    expect(steps.map((s) => s.outcome)).toEqual(["ok", "changed"]);
    expect(lines(o.events, "a", "use")).toEqual(["got 1.2.3-"]);
    expect(lines(o.events, "a", "make")).toEqual(["name=forged"]);
    const finished = o.events.find((e) => e.type === "step.finished" && e.step === "make");
    expect(finished).toMatchObject({ outputs: { version: "1.2.3", changed: "false" } });
  });

  it("records a step whose check exits 0 as ok (already done) without running it, and runs it otherwise", async () => {
    const marker = join(scratch, "check-marker");
    const o = options();
    const p = simplePlan(
      [localTarget("a")],
      [
        step("first", { check: `test -f "$M"`, run: `touch "$M"`, env: { M: marker } }),
        step("second", { check: `test -f "$M"`, run: "echo should-not-run", env: { M: marker } }),
      ],
    );
    const out = await runPlan(p, o);
    expect(out.targets[0]!.steps.map((s) => s.outcome)).toEqual(["changed", "ok"]);
    expect(out.targets[0]!.steps[1]!.reason).toBe("check passed: already done");
    expect(lines(o.events, "a", "second")).toEqual([]);
    expect(out.targets[0]!.outcome).toBe("changed");
  });

  it("a target whose every check passes is ok (already in the desired state), not skipped", async () => {
    const o = options();
    const p = simplePlan(
      [localTarget("a")],
      [
        step("one", { check: "true", run: "echo must-not-run" }),
        step("two", { check: "true", run: "echo must-not-run" }),
        step("off", { run: "echo must-not-run", if: "${{ false }}" }),
      ],
    );
    const out = await runPlan(p, o);
    expect(out.targets[0]!.steps.map((s) => [s.id, s.outcome])).toEqual([
      ["one", "ok"],
      ["two", "ok"],
      ["off", "skipped"],
    ]);
    expect(out.targets[0]!.outcome).toBe("ok");
    expect(out.counts).toMatchObject({ ok: 1, skipped: 0 });
    expect(lines(o.events, "a", "one")).toEqual([]);
  });

  it("--check mode runs only check scripts", async () => {
    const flag = join(scratch, "check-mode-flag");
    const o = options();
    const p = simplePlan(
      [localTarget("a")],
      [
        step("needs", { check: "exit 1", run: `touch "${flag}"` }),
        step("done", { check: "true", run: `touch "${flag}"` }),
        step("nocheck", { run: `touch "${flag}"` }),
      ],
      { checkMode: true },
    );
    const out = await runPlan(p, o);
    expect(out.targets[0]!.steps.map((s) => [s.outcome, s.reason])).toEqual([
      ["changed", "would change (check exited non-zero)"],
      ["ok", "check passed: already done"],
      ["skipped", "no check script; --check runs nothing else"],
    ]);
    expect(existsSync(flag)).toBe(false);
  });

  it("evaluates if:, skips after a failure, and honours continue_on_error and always()", async () => {
    const o = options();
    const p = simplePlan(
      [localTarget("a", { labels: { role: "web" } })],
      [
        step("maybe", { run: "echo no", if: "${{ target.labels.role == 'db' }}" }),
        step("soft", { run: "exit 3", continueOnError: true }),
        step("hard", { run: "echo hard; exit 4" }),
        step("after", { run: "echo after" }),
        step("cleanup", { run: "echo cleanup", if: "always()" }),
        step("onfail", { run: "echo failed-handler", if: "failure()" }),
      ],
    );
    const out = await runPlan(p, o);
    const t = out.targets[0]!;
    expect(t.steps.map((s) => s.outcome)).toEqual([
      "skipped",
      "failed",
      "failed",
      "skipped",
      "changed",
      "changed",
    ]);
    expect(t.steps[2]).toMatchObject({ exitCode: 4, reason: "exit code 4" });
    expect(t.outcome).toBe("failed");
    expect(t.reason).toBe("step hard: exit code 4");
    expect(out.result).toBe("failure");
  });

  it("retries a failing step with a delay until it succeeds", async () => {
    const counter = join(scratch, "retry-counter");
    const o = options();
    const p = simplePlan(
      [localTarget("a")],
      [
        step("flaky", {
          run: `n=$(cat "${counter}" 2>/dev/null || echo 0); n=$((n+1)); echo $n >"${counter}"; [ $n -ge 3 ]`,
          retry: { attempts: 5, delayMs: 50 },
        }),
      ],
    );
    const t0 = Date.now();
    const out = await runPlan(p, o);
    expect(out.targets[0]!.steps[0]).toMatchObject({ outcome: "changed", attempts: 3 });
    expect(readFileSync(counter, "utf8").trim()).toBe("3");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    const starts = o.events
      .filter((e) => e.type === "step.started")
      .map((e) => (e as { attempt: number }).attempt);
    expect(starts).toEqual([1, 2, 3]);
  });

  it("kills a step at its timeout, with everything it started", async () => {
    const pidFile = join(scratch, "timeout-pid");
    const o = options();
    const p = simplePlan(
      [localTarget("a")],
      [step("slow", { run: `sleep 300 & echo $! >"${pidFile}"; wait`, timeoutMs: 300 })],
    );
    const out = await runPlan(p, o);
    expect(out.targets[0]!.outcome).toBe("timed_out");
    expect(out.targets[0]!.steps[0]!.reason).toMatch(/timed out after 300 ms/);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(isAlive(pid)).toBe(false);
  });

  it("masks secrets in every event, including split and multi-line values", async () => {
    const redactor = new Redactor();
    const secret = "s3cr3t-Value-42";
    redactor.add(secret);
    const o = options({ redactor, secrets: { DB_PASSWORD: secret } });
    const p = simplePlan(
      [localTarget("a")],
      [
        step("leak", {
          run: 'printf "pw=%s\\n" "$DB_PASSWORD"; printf "s3cr3t-"; printf "Value-42\\n" >&2; echo "out=$DB_PASSWORD" >>"$OPSC_OUTPUT"; exit 1',
        }),
      ],
    );
    await runPlan(p, o);
    const text = JSON.stringify(o.events);
    expect(text).not.toContain(secret);
    expect(lines(o.events, "a", "leak")).toEqual(["pw=***", "s3cr3t-"]);
    expect(o.events.find((e) => e.type === "step.finished")).toMatchObject({ outputs: { out: "***" } });
  });

  it("runs rolling batches and cancels the rest once max_failures is exceeded", async () => {
    const names = ["t1", "t2", "t3", "t4", "t5", "t6"];
    const o = options();
    const p = plan(
      names.map((n) => localTarget(n)),
      [
        phase(
          "main",
          names,
          [step("s", { run: 'case "$T" in t3|t4) exit 1;; esac', env: { T: "${{ target.name }}" } })],
          {
            batches: [
              ["t1", "t2"],
              ["t3", "t4"],
              ["t5", "t6"],
            ],
            parallel: 2,
            maxFailures: 1,
          },
        ),
      ],
    );
    const out = await runPlan(p, o);
    const by = Object.fromEntries(out.targets.map((t) => [t.name, t.outcome]));
    expect(by).toEqual({
      t1: "changed",
      t2: "changed",
      t3: "failed",
      t4: "failed",
      t5: "cancelled",
      t6: "cancelled",
    });
    expect(out.targets.find((t) => t.name === "t5")!.reason).toMatch(
      /max_failures \(1\) exceeded in batch 2/,
    );
    expect(out.result).toBe("failure");
  });

  it("tolerates failures up to max_failures, fails alone, and runs phases in order", async () => {
    const o = options();
    const p = plan(
      [localTarget("a"), localTarget("b")],
      [
        phase("one", ["a", "b"], [step("s", { run: '[ "$T" != b ]', env: { T: "${{ target.name }}" } })], {
          maxFailures: 1,
        }),
        phase("two", ["a", "b"], [step("s2", { run: "echo two" })]),
      ],
    );
    const out = await runPlan(p, o);
    expect(out.targets.map((t) => [t.phase, t.name, t.outcome])).toEqual([
      ["one", "a", "changed"],
      ["one", "b", "failed"],
      ["two", "a", "changed"],
      ["two", "b", "skipped"],
    ]);
    const phases = o.events
      .filter((e) => e.type.startsWith("phase."))
      .map((e) => `${e.type}:${(e as { phase: string }).phase}`);
    expect(phases).toEqual([
      "phase.started:one",
      "phase.finished:one",
      "phase.started:two",
      "phase.finished:two",
    ]);
  });

  it("cancels cleanly on abort and still returns a summary", async () => {
    const ac = new AbortController();
    const o = options({ signal: ac.signal });
    const names = ["a", "b", "c"];
    const p = plan(
      names.map((n) => localTarget(n)),
      [phase("main", names, [step("s", { run: "sleep 30" })], { parallel: 1 })],
    );
    setTimeout(() => ac.abort(), 200);
    const t0 = Date.now();
    const out = await runPlan(p, o);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(out.result).toBe("cancelled");
    expect(out.targets.map((t) => t.outcome)).toEqual(["cancelled", "cancelled", "cancelled"]);
    expect(o.events.at(-1)).toMatchObject({ type: "run.finished", result: "cancelled" });
  });

  it("times the whole job out", async () => {
    const o = options();
    const p = simplePlan(
      [localTarget("a")],
      [step("s", { run: "sleep 30" }), step("t", { run: "echo never" })],
      { timeoutMs: 200 },
    );
    const out = await runPlan(p, o);
    expect(out.targets[0]).toMatchObject({
      outcome: "timed_out",
      reason: expect.stringMatching(/job timeout/),
    });
  });

  it("fails a step with a bad env name instead of sending it", async () => {
    const o = options();
    const p = simplePlan([localTarget("a")], [step("s", { run: "true", env: { "BAD-NAME": "x" } })]);
    const out = await runPlan(p, o);
    expect(out.targets[0]!.steps[0]).toMatchObject({
      outcome: "failed",
      reason: expect.stringMatching(/"BAD-NAME" is not valid/),
    });
  });

  it("carries 10 MB of output with nothing lost", async () => {
    const o = options({ listeners: [] });
    let bytes = 0;
    let count = 0;
    let lastLine = "";
    o.listeners = [
      (e) => {
        if (e.type === "step.output" && e.stream === "stdout") {
          bytes += e.line.length + 1;
          count++;
          lastLine = e.line;
        }
      },
    ];
    // 163,840 lines of 64 bytes = 10 MiB
    const p = simplePlan(
      [localTarget("a")],
      [
        step("big", {
          run: "i=0; yes 0123456789012345678901234567890123456789012345678901234567890AB | head -n 163840; echo end",
        }),
      ],
    );
    const out = await runPlan(p, o);
    expect(out.result).toBe("success");
    expect(count).toBe(163_841);
    expect(bytes).toBe(163_840 * 64 + 4);
    expect(lastLine).toBe("end");
  });
});

/** A zombie (killed, not yet reaped by a container's init) counts as gone. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

describe("runPlan events", () => {
  it("pairs every target.finished with an earlier target.started in the same phase", async () => {
    const events: RunEvent[] = [];
    const names = ["a", "b"];
    const p = plan(
      names.map((n) => localTarget(n)),
      [
        phase("one", names, [step("s", { run: "exit 1" })], {
          batches: [["a"], ["b"]],
          parallel: 1,
          maxFailures: 0,
        }),
        phase("two", names, [step("s", { run: "true" })]),
      ],
    );
    const out = await runPlan(p, {
      transportFor: (t) => new LocalTransport(t.name),
      redactor: new Redactor(),
      listeners: [(e) => events.push(e)],
    });
    expect(out.targets.map((t) => [t.phase, t.name, t.outcome])).toEqual([
      ["one", "a", "failed"],
      ["one", "b", "cancelled"],
      ["two", "a", "cancelled"],
      ["two", "b", "cancelled"],
    ]);
    const open = new Map<string, string>();
    for (const e of events) {
      if (e.type === "target.started") open.set(e.target, e.phase);
      if (e.type === "target.finished") {
        expect(open.has(e.target)).toBe(true);
        open.delete(e.target);
      }
    }
    expect(open.size).toBe(0);
  });
});
