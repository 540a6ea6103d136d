/**
 * Target locks: before a run touches its targets it takes a lease on each
 * one (`refs/opsconductor/locks/<target>`, see git/leases.ts), renews them
 * while it runs and frees them when it is done. Every door runs jobs through
 * executeJob, so `opsc run`, the Action and `opsc serve` replicas exclude
 * each other the same way.
 *
 * All free locks are taken in one batch (one push), renewed together and
 * freed together. A held target either waits (`locks: { wait }`, then fails
 * naming the holder) or is skipped (`locks: skip`). A run waits for a target
 * only while it holds no lock on a target after it in name order (it frees
 * those first), so two runs that want overlapping targets never wait for each
 * other in a cycle: see docs/locks.md.
 */
import type { Plan } from "../core/plan-model.js";
import { DEFAULT_LOCK_WAIT_MS, type LockPolicy } from "../core/repo-model.js";
import type { TargetOutcome } from "../core/run-events.js";
import type { RunSummary, TargetLockSummary } from "../core/run-summary.js";
import { errorText } from "../core/error-text.js";
import { environmentError, isOpscError } from "../core/errors.js";
import { replicaName } from "../git/claims.js";
import { displayUrl } from "../git/display-url.js";
import { GitRepository } from "../git/git-repository.js";
import { LeaseGroup } from "../git/lease-group.js";
import {
  leaseBackendFor,
  leaseDurationMs,
  Leases,
  type AcquireResult,
  type HeldLease,
  type LeaseRecord,
} from "../git/leases.js";
import { formatMs } from "../plan/render-plan.js";

export const LOCKS_PREFIX = "refs/opsconductor/locks";

/** A target name is a valid ref component already (targets schema); these endings are not. */
export function lockRef(target: string): string {
  const safe = /(\.lock|\.)$/.test(target) ? `${target}_` : target;
  return `${LOCKS_PREFIX}/${safe}`;
}

export interface TargetLocksRequest {
  plan: Plan;
  runId: string;
  gitdir: string;
  /** Take the locks on the records remote (`origin`, when HTTP(S)); else in the local repository. */
  remote: boolean;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  /** Told once per held target when the run starts waiting for it (the CLI says so on stderr). */
  onWait?: ((wait: LockWait) => void) | undefined;
}

export interface LockWait {
  target: string;
  run: string;
  replica: string;
  expiresAt: string;
  /** How long the run waits at most (`10m`); undefined with `locks: skip`. */
  wait?: string;
}

export class TargetLocks {
  /** Targets this run does not work on: held by another run (skipped, or waited for too long). */
  readonly decided = new Map<string, { outcome: TargetOutcome; reason: string }>();
  private readonly locks = new Map<string, TargetLockSummary>();
  private readonly lostWhy = new Map<string, string>();
  private readonly held: LeaseGroup;

  private constructor(leases: Leases) {
    this.held = new LeaseGroup(leases);
  }

  /** Takes every target's lock, waiting or skipping as the job says. */
  static async take(request: TargetLocksRequest): Promise<TargetLocks> {
    const env = request.env;
    const url = request.remote ? await new GitRepository(request.gitdir).remoteUrl("origin") : null;
    const leases = new Leases(leaseBackendFor(request.gitdir, url, env), {
      replica: replicaName(env),
      durationMs: leaseDurationMs(env),
    });
    const policy: LockPolicy = request.plan.locks ?? { policy: "wait", waitMs: DEFAULT_LOCK_WAIT_MS };
    const locks = new TargetLocks(leases);
    let rest = [...new Set(request.plan.phases.flatMap((p) => p.targets))].sort();
    try {
      while (rest.length > 0 && !request.signal?.aborted) {
        const t0 = Date.now();
        const answers = await leases.acquireMany(rest.map(lockRef), request.runId);
        const answerOf = (t: string): AcquireResult => answers.get(lockRef(t))!;
        const blocked = rest.filter((t) => answerOf(t).kind !== "acquired");
        for (const t of rest) {
          const answer = answerOf(t);
          if (answer.kind === "acquired") locks.hold(t, answer.lease, Date.now() - t0, undefined);
        }
        if (blocked.length === 0) break;
        if (policy.policy === "skip") {
          // Skipping never waits, so holding the rest cannot block anyone in a cycle.
          for (const t of blocked)
            await locks.takeOne(leases, t, request.runId, policy, request, answerOf(t));
          break;
        }
        // Wait only while holding nothing after the awaited target in name order: free those first.
        const first = blocked[0]!;
        const after = rest.filter((t) => t > first && answerOf(t).kind === "acquired");
        if (after.length > 0) {
          for (const t of after) locks.locks.delete(t);
          // Should the push fail, those leases stop being renewed and expire on their own.
          await locks.held.release(after.map(lockRef)).catch(() => undefined);
        }
        await locks.takeOne(leases, first, request.runId, policy, request, answerOf(first));
        rest = rest.filter((t) => t > first);
      }
    } catch (e) {
      await locks.release();
      if (isOpscError(e)) throw e;
      // Without the arbiter a run cannot know it is alone on its targets: it does not start.
      throw environmentError(
        "locks.unreachable",
        `cannot lock the run's targets on ${url ? displayUrl(url) : "the local repository"}: ${errorText(e)}`,
        {
          hint: "target locks live on the records remote (origin), which must be reachable; see docs/locks.md",
          cause: e,
        },
      );
    }
    return locks;
  }

  private hold(target: string, lease: HeldLease, waitedMs: number, heldBy: LeaseRecord | undefined): void {
    const from = lease.takenOverFrom;
    const summary: TargetLockSummary = {
      result: "acquired",
      waitedMs,
      ...(heldBy ? { heldBy: lockHolderOf(heldBy) } : {}),
      ...(from ? { takenOverFrom: { run: from.holder, replica: from.replica } } : {}),
    };
    this.locks.set(target, summary);
    this.held.add(lease, (why) => {
      summary.lost = true;
      this.lostWhy.set(target, why);
    });
    this.held.keepAlive();
  }

  /** One held target: wait for it (polling it alone) or skip it, starting from the batch's answer. */
  private async takeOne(
    leases: Leases,
    target: string,
    runId: string,
    policy: LockPolicy,
    request: Pick<TargetLocksRequest, "signal" | "onWait">,
    firstAnswer: AcquireResult,
  ): Promise<void> {
    const { signal, onWait } = request;
    const ref = lockRef(target);
    const t0 = Date.now();
    // A waiter looks again a few times per lease duration: a freed lock is seen within seconds.
    const pollMs = Math.min(2000, Math.max(100, Math.floor(leases.durationMs / 4)));
    let heldBy: LeaseRecord | undefined;
    let answer: AcquireResult | undefined = firstAnswer;
    for (;;) {
      answer ??= await leases.acquire(ref, runId);
      const waitedMs = Date.now() - t0;
      if (answer.kind === "acquired") {
        this.hold(target, answer.lease, waitedMs, heldBy);
        return;
      }
      // A lock is never "done"; a hand-written ref that says so is as good as held.
      if (heldBy === undefined) {
        onWait?.({
          target,
          run: answer.by.info.holder,
          replica: answer.by.info.replica,
          expiresAt: answer.by.info.expiresAt,
          ...(policy.policy === "wait" ? { wait: formatMs(policy.waitMs) } : {}),
        });
      }
      heldBy = answer.by;
      const who = describeLockHolder(answer.by);
      if (policy.policy === "skip") {
        this.locks.set(target, { result: "skipped", waitedMs: 0, heldBy: lockHolderOf(answer.by) });
        this.decided.set(target, {
          outcome: "skipped",
          reason: `locked by ${who} (locks: skip)`,
        });
        return;
      }
      if (waitedMs >= policy.waitMs) {
        this.locks.set(target, { result: "timed_out", waitedMs, heldBy: lockHolderOf(answer.by) });
        this.decided.set(target, {
          outcome: "failed",
          reason:
            `waited ${formatMs(Math.round(waitedMs / 1000) * 1000)} for the lock on ${target}, ` +
            `still held by ${who} (locks: { wait: ${formatMs(policy.waitMs)} })`,
        });
        return;
      }
      await sleepUnlessAborted(Math.min(pollMs, policy.waitMs - waitedMs), signal);
      if (signal?.aborted) return;
      answer = undefined;
    }
  }

  /** Why this run lost `target`'s lock since taking it, else undefined (see RunOptions.lockLost). */
  lost(target: string): string | undefined {
    return this.lostWhy.get(target);
  }

  /** Writes each target's lock into the run's summary. */
  apply(summary: RunSummary): void {
    for (const t of summary.targets) {
      const lock = this.locks.get(t.name);
      if (lock) t.lock = { ...lock };
    }
  }

  /** Frees every lock this run holds; a lock that cannot be freed expires on its own. */
  async release(): Promise<void> {
    await this.held.release().catch(() => undefined);
  }
}

function lockHolderOf(r: LeaseRecord): { run: string; replica: string } {
  return { run: r.info.holder, replica: r.info.replica };
}

function describeLockHolder(r: LeaseRecord): string {
  return `run ${r.info.holder} on ${r.info.replica} (its lease expires ${r.info.expiresAt})`;
}

function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
