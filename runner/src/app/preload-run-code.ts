/**
 * Code a run is sure to need (ssh2, the SOPS and age code) starts loading
 * while the run takes its target locks, which mostly waits on the disk or
 * the records remote, instead of after them with the first connection. A
 * run that needs neither (a local job without credentials) loads neither.
 */
import type { Plan, PlannedTarget } from "../core/plan-model.js";
import type { CredentialStore } from "../secrets/credential-store.js";
import { preloadSsh } from "../transports/ssh-transport.js";

export function preloadRunCode(plan: Plan, credentials: CredentialStore): void {
  const targets = Object.values(plan.targets);
  const hops = (t: PlannedTarget): PlannedTarget[] => (t.jump ? [t, ...hops(t.jump)] : [t]);
  const all = targets.flatMap(hops);
  if (all.some((t) => t.transport === "ssh")) preloadSsh();
  if (Object.keys(plan.secrets).length > 0 || all.some((t) => t.credential !== undefined || t.sudo?.password))
    credentials.preload();
}
