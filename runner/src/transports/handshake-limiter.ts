/**
 * Bounds how many SSH handshakes run at once. OpenSSH's MaxStartups (10:30:100 by
 * default) starts dropping unauthenticated connections beyond 10, so a fan-out to
 * hundreds of hosts behind one bastion, or a test sshd on many addresses, would
 * otherwise see random resets.
 */
export class HandshakeLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit = 10) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
