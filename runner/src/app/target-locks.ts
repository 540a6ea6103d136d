/**
 * Target locks: before a run touches its targets it takes a lease on each
 * one (`refs/opsconductor/locks/<target>`, see git/leases.ts), renews them
 * while it runs and frees them when it is done. Every door runs jobs through
 * executeJob, so `opsc run`, the Action and `opsc serve` replicas exclude
 * each other the same way.
 *
 * Locks are taken in target-name order before the first step, so two runs
 * that want overlapping targets never hold one each while waiting for the
 * other's. A held target either waits (`locks: { wait }`, then fails naming
 * the holder) or is skipped (`locks: skip`).
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
import { leaseBackendFor, leaseDurationMs, Leases, type HeldLease, type LeaseRecord } from "../git/leases.js";
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
  private readonly held: HeldLease[] = [];

  private constructor() {}

  /** Takes every target's lock, waiting or skipping as the job says. */
  static async take(request: TargetLocksRequest): Promise<TargetLocks> {
    const env = request.env;
    const url = request.remote ? await new GitRepository(request.gitdir).remoteUrl("origin") : null;
    const leases = new Leases(leaseBackendFor(request.gitdir, url, env), {
      replica: replicaName(env),
      durationMs: leaseDurationMs(env),
    });
    const policy: LockPolicy = request.plan.locks ?? { policy: "wait", waitMs: DEFAULT_LOCK_WAIT_MS };
    const locks = new TargetLocks();
    const targets = [...new Set(request.plan.phases.flatMap((p) => p.targets))].sort();
    try {
      for (const target of targets) {
        if (request.signal?.aborted) break;
        await locks.takeOne(leases, target, request.runId, policy, request.signal, request.onWait);
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

  private async takeOne(
    leases: Leases,
    target: string,
    runId: string,
    policy: LockPolicy,
    signal: AbortSignal | undefined,
    onWait: TargetLocksRequest["onWait"],
  ): Promise<void> {
    const ref = lockRef(target);
    const t0 = Date.now();
    // A waiter looks again a few times per lease duration: a freed lock is seen within seconds.
    const pollMs = Math.min(2000, Math.max(100, Math.floor(leases.durationMs / 4)));
    let heldBy: LeaseRecord | undefined;
    for (;;) {
      const answer = await leases.acquire(ref, runId);
      const waitedMs = Date.now() - t0;
      if (answer.kind === "acquired") {
        const from = answer.lease.takenOverFrom;
        const summary: TargetLockSummary = {
          result: "acquired",
          waitedMs,
          ...(heldBy ? { heldBy: lockHolderOf(heldBy) } : {}),
          ...(from ? { takenOverFrom: { run: from.holder, replica: from.replica } } : {}),
        };
        this.locks.set(target, summary);
        this.held.push(answer.lease.keepAlive(() => (summary.lost = true)));
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
    }
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
    const held = this.held.splice(0);
    await Promise.all(held.map((l) => l.release().catch(() => false)));
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
