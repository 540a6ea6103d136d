/**
 * An in-process stand-in for executeJob, for fault injection in server unit
 * tests: it records every request, can hold a run until released, can fail,
 * and honours the abort signal like the real engine. End-to-end tests use the
 * real executeJob.
 */
import type { RunSummary } from "../../src/core/run-summary.js";
import type { ExecuteJobRequest } from "../../src/server/job-executor.js";

export class FakeExecutor {
  readonly requests: ExecuteJobRequest[] = [];
  /** When set, runs wait until `release()` (or abort). */
  hold = false;
  failWith: Error | undefined;
  private waiting: Array<() => void> = [];
  private seq = 0;

  readonly run = async (request: ExecuteJobRequest): Promise<{ summary: RunSummary }> => {
    this.requests.push(request);
    if (this.failWith) throw this.failWith;
    const id = `20260101T000000Z-${request.job.replace(/[^a-z0-9]+/g, "-")}-${String(++this.seq).padStart(4, "0")}`;
    const emit = (e: Parameters<NonNullable<ExecuteJobRequest["listeners"]>[number]>[0]) =>
      request.listeners?.forEach((l) => l(e));
    const at = new Date().toISOString();
    emit({ type: "run.started", at, runId: id, job: request.job, targets: ["here"] });
    let result: RunSummary["result"] = "success";
    if (this.hold) {
      result = await new Promise((resolve) => {
        this.waiting.push(() => resolve("success"));
        request.signal?.addEventListener("abort", () => resolve("cancelled"));
      });
    }
    emit({
      type: "step.finished",
      at,
      target: "here",
      step: "s",
      outcome: "ok",
      ms: 12,
      attempt: 1,
      outputs: {},
    });
    emit({ type: "run.finished", at, result, ms: 12 });
    return {
      summary: {
        id,
        job: request.job,
        result,
        startedAt: at,
        finishedAt: new Date().toISOString(),
        trigger: request.trigger,
        actor: request.trigger.actor,
        ...(request.commit ? { sourceCommit: request.commit } : {}),
        inputs: request.inputs,
        checkMode: false,
        targets: [],
        counts: { ok: 1, changed: 0, failed: 0, skipped: 0, unreachable: 0, timed_out: 0, cancelled: 0 },
      },
    };
  };

  release(): void {
    for (const w of this.waiting.splice(0)) w();
  }

  jobs(): string[] {
    return this.requests.map((r) => r.job);
  }
}

/** Polls until `check` holds (server work happens after the HTTP answer). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
