/**
 * The leases one run holds, moved together: one push renews them all every
 * third of the lease duration, and one push frees them. A run on 100 targets
 * pays one round trip per renewal period, not 100.
 */
import { environmentError } from "../core/errors.js";
import type { HeldLease, LeaseInfo, LeaseMove, Leases } from "./leases.js";

interface Member {
  lease: HeldLease;
  onLost: (why: string) => void;
}

export class LeaseGroup {
  private readonly members = new Map<string, Member>();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly leases: Leases) {}

  get size(): number {
    return this.members.size;
  }

  /** Adds a freshly acquired lease; `onLost` hears when a renewal finds it taken by another holder. */
  add(lease: HeldLease, onLost: (why: string) => void): void {
    this.members.set(lease.ref, { lease, onLost });
  }

  /** Renews every member in one batch every third of the lease duration until released. */
  keepAlive(onError?: (e: unknown) => void): this {
    if (this.timer) return this;
    const every = Math.max(200, Math.floor(this.leases.durationMs / 3));
    this.timer = setInterval(() => {
      this.renew().catch((e: unknown) => onError?.(e));
    }, every);
    this.timer.unref();
    return this;
  }

  /** Pushes every member's expiry forward in one batch; returns the refs found lost. */
  renew(): Promise<string[]> {
    return this.serial(async () => {
      const batch = [...this.members.values()]
        .map((m) => ({ member: m, move: m.lease.renewalMove() }))
        .filter((b): b is { member: Member; move: LeaseMove & { info: LeaseInfo } } => b.move !== null);
      const answers = await this.leases.backend.updateMany(batch.map((b) => b.move));
      const lost: string[] = [];
      for (const { member, move } of batch) {
        const ok = answers.get(move.ref) ?? false;
        member.lease.settle(move, ok);
        if (!ok) {
          lost.push(move.ref);
          this.members.delete(move.ref);
          member.onLost(`the lease ${move.ref} was taken by another holder after it expired`);
        }
      }
      return lost;
    });
  }

  /**
   * Frees the members with these refs (all of them without) in one batch. A
   * lease that cannot be freed expires on its own.
   */
  release(refs?: string[]): Promise<void> {
    const chosen = refs ? new Set(refs) : undefined;
    const leaving = [...this.members.values()].filter((m) => !chosen || chosen.has(m.lease.ref));
    for (const m of leaving) this.members.delete(m.lease.ref);
    if (this.members.size === 0) this.stop();
    return this.serial(async () => {
      const batch = leaving
        .map((m) => ({ lease: m.lease, move: m.lease.releaseMove() }))
        .filter((b): b is { lease: HeldLease; move: LeaseMove & { info: LeaseInfo } } => b.move !== null);
      if (batch.length === 0) return;
      let answers: Map<string, boolean>;
      try {
        answers = await this.leases.backend.updateMany(batch.map((b) => b.move));
      } catch (e) {
        throw environmentError("leases.release-failed", `could not free ${batch.length} lease(s)`, {
          hint: "they expire on their own after OPSC_LEASE_SECONDS",
          cause: e,
        });
      }
      for (const { lease, move } of batch) lease.settle(move, answers.get(move.ref) ?? false);
    });
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
