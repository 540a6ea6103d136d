/**
 * Looks at work another replica holds again just after its claim would
 * expire (its holder's last renewal may still be in flight): a replica that
 * died holding it does not lose the work. Deliveries, schedule ticks, missed
 * ticks and journaled work all wait this way; stop() ends every wait (shutdown).
 */
export class ClaimRechecks {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly marginMs = 500) {}

  /** Runs `again` just after `expiresAt`, by the wall clock (leases expire by it, whatever clock the runner is given). */
  at(expiresAt: Date, again: () => void): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        again();
      },
      Math.max(0, expiresAt.getTime() - Date.now()) + this.marginMs,
    );
    timer.unref();
    this.timers.add(timer);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
