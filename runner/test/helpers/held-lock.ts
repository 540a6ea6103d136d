/**
 * A target lock held by the test itself, as another run (a maintenance window,
 * a stuck run) would hold it, until the test releases the lease.
 */
import { lockRef } from "../../src/app/target-locks.js";
import { Leases, type HeldLease, type LeaseBackend } from "../../src/git/leases.js";

export async function holdTargetLock(
  backend: LeaseBackend,
  target: string,
  run: string,
  replica = "maintenance",
): Promise<HeldLease> {
  const held = await new Leases(backend, { replica, durationMs: 5 * 60_000 }).acquire(lockRef(target), run);
  if (held.kind !== "acquired") throw new Error(`the test could not hold ${target}: ${held.kind}`);
  return held.lease;
}
