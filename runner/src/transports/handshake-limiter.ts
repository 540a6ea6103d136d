/**
 * Bounds how many SSH handshakes run at once against one sshd. OpenSSH's
 * MaxStartups (10:30:100 by default) starts dropping unauthenticated
 * connections beyond 10 per server, so a fan-out to many targets at one
 * address (a bastion's port forwards, a load balancer) would otherwise see
 * random resets. The limit is per destination (host and port), not global:
 * targets on different hosts never wait for each other (docs/ssh.md).
 */
export class HandshakeLimiter {
  private readonly lanes = new Map<string, { active: number; waiting: Array<() => void> }>();

  constructor(readonly limit = 10) {}

  async run<T>(destination: string, work: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(destination);
    if (!lane) {
      lane = { active: 0, waiting: [] };
      this.lanes.set(destination, lane);
    }
    if (lane.active >= this.limit) await new Promise<void>((r) => lane.waiting.push(r));
    lane.active++;
    try {
      return await work();
    } finally {
      lane.active--;
      const next = lane.waiting.shift();
      if (next) next();
      else if (lane.active === 0) this.lanes.delete(destination);
    }
  }
}
