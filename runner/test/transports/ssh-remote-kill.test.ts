/**
 * Stopping remote work: a step timeout, a job timeout and cancellation end the
 * step's processes on the target, whether the target logs in as root (where
 * OpenSSH refuses signal requests) or as a normal user, and under sudo. The sshd
 * is local, so the test looks for the remote processes on this machine.
 */
import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import type { ParsedKey } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Plan, PlannedStep, PlannedTarget } from "../../src/core/plan-model.js";
import type { RunEvent } from "../../src/core/run-events.js";
import { runPlan, type RunOutcome } from "../../src/run/run-plan.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { simplePlan, step } from "../helpers/plan-fixture.js";
import { SSHD_PATH, startSshd, TEST_USER, type Sshd } from "../helpers/sshd.js";
import { clientKey, sshTransportFor } from "../helpers/ssh-targets.js";

const ADDR = "127.0.0.6";
const isRoot = process.getuid?.() === 0;

/** A `sleep` whose command line no other process has: `sleep 75.<random>`. */
function uniqueSleep(): string {
  return `sleep 75.${randomInt(1e5, 1e6)}`;
}

/** Processes whose command line contains `text` (the sshd is local, so remote processes are here). */
function running(text: string): string[] {
  try {
    return execFileSync("pgrep", ["-f", "-a", "--", text.replace(/\./g, "\\.")], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.includes("pgrep"));
  } catch {
    return [];
  }
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

describe.skipIf(!SSHD_PATH || !isRoot)("stopping remote work over SSH", () => {
  let sshd: Sshd;
  let key: ParsedKey;

  beforeAll(async () => {
    sshd = await startSshd([ADDR], { permitRootLogin: true });
    key = clientKey(sshd);
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  function target(user: string, fields: Partial<PlannedTarget> = {}): PlannedTarget {
    return {
      name: `as-${user}`,
      transport: "ssh",
      host: ADDR,
      port: sshd.port,
      user,
      hostKeys: [sshd.hostKey],
      shell: "sh",
      labels: {},
      vars: {},
      ...fields,
    };
  }

  async function run(
    t: PlannedTarget,
    steps: PlannedStep[],
    extra: { plan?: Partial<Plan>; signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {},
  ): Promise<{ out: RunOutcome; events: RunEvent[]; ms: number }> {
    const events: RunEvent[] = [];
    const t0 = Date.now();
    const out = await runPlan(simplePlan([t], steps, extra.plan), {
      transportFor: sshTransportFor(key, { killGraceMs: 1_000 }),
      redactor: new Redactor(),
      sudoPassword: () => sshd.password,
      listeners: [
        (e) => {
          events.push(e);
          extra.onEvent?.(e);
        },
      ],
      ...(extra.signal ? { signal: extra.signal } : {}),
    });
    return { out, events, ms: Date.now() - t0 };
  }

  for (const user of ["root", TEST_USER]) {
    it(`a step timeout kills the remote process group (login as ${user})`, async () => {
      const sleep = uniqueSleep();
      // A background child and a foreground one: the whole group has to go.
      const { out, ms } = await run(target(user), [
        step("slow", { run: `${sleep} & ${sleep}; wait`, timeoutMs: 2_000 }),
      ]);
      expect(out.targets[0]!.steps[0]).toMatchObject({
        outcome: "timed_out",
        reason: expect.stringMatching(/timed out after 2000 ms/),
      });
      expect(ms).toBeLessThan(30_000);
      expect(running(sleep)).toEqual([]);
    });

    it(`a job timeout kills the remote process group (login as ${user})`, async () => {
      const sleep = uniqueSleep();
      const { out } = await run(target(user), [step("slow", { run: `${sleep} & ${sleep}; wait` })], {
        plan: { timeoutMs: 2_000 },
      });
      expect(out.targets[0]!.outcome).toBe("timed_out");
      expect(out.targets[0]!.steps[0]!.outcome).toBe("timed_out");
      expect(running(sleep)).toEqual([]);
    });

    it(`cancelling the run kills the remote process group (login as ${user})`, async () => {
      const sleep = uniqueSleep();
      const abort = new AbortController();
      const { out } = await run(target(user), [step("slow", { run: `echo started; ${sleep}` })], {
        signal: abort.signal,
        onEvent: (e) => {
          if (e.type === "step.output" && e.line === "started") {
            // The remote sleep is started right after the echo.
            void until(() => running(sleep).length > 0, 10_000).then(() => abort.abort());
          }
        },
      });
      expect(running(sleep)).toEqual([]);
      expect(out.targets[0]!.steps[0]!.outcome).toBe("cancelled");
      expect(out.result).toBe("cancelled");
    });
  }

  it("sends TERM, then KILL after the grace period to a step that ignores TERM (login as root)", async () => {
    const sleep = uniqueSleep();
    const { out, events } = await run(target("root"), [
      step("stubborn", {
        run: `trap 'echo got TERM' TERM; ${sleep} & while :; do wait; done`,
        timeoutMs: 1_500,
      }),
    ]);
    expect(out.targets[0]!.steps[0]!.outcome).toBe("timed_out");
    expect(running(sleep)).toEqual([]);
    // TERM reached the shell (its trap ran) and did not end it; KILL did.
    expect(events.some((e) => e.type === "step.output" && e.line === "got TERM")).toBe(true);
  });

  it("stops a step running through sudo as root under a normal login", async () => {
    const sleep = uniqueSleep();
    const t = target(TEST_USER, { sudo: { enabled: true, password: "test/sudo.password" } });
    const { out } = await run(t, [
      step("root-slow", {
        sudo: true,
        run: `[ "$(id -u)" = 0 ] && echo as-root; ${sleep} & ${sleep}; wait`,
        timeoutMs: 3_000,
      }),
    ]);
    expect(out.targets[0]!.steps[0]!.outcome).toBe("timed_out");
    expect(running(sleep)).toEqual([]);
  });
});
