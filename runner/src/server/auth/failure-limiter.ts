/**
 * Failed authentication per client address: after `limit` failures in a
 * window, further requests from that address are refused (429) until the
 * window has passed. Successful requests do not count.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Milliseconds until the address may try again; 0 when it may now. */
  blockedFor(address: string): number {
    const list = this.recent(address);
    if (list.length < this.limit) return 0;
    return Math.max(1, list[list.length - this.limit]! + this.windowMs - this.now());
  }

  fail(address: string): void {
    const list = this.recent(address);
    list.push(this.now());
    this.failures.set(address, list);
    // Bound memory against many addresses.
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
  }

  private recent(address: string): number[] {
    const cutoff = this.now() - this.windowMs;
    return (this.failures.get(address) ?? []).filter((t) => t > cutoff);
  }
}
