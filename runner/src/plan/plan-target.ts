import type { PlannedTarget } from "../core/plan-model.js";
import type { RepoModel, TargetDef } from "../core/repo-model.js";

/**
 * A target as a plan carries it: a copy (plans are data, never shared with the
 * model) with its jump chain resolved. `onBadJump` hears of a hop that does not
 * exist or loops; validation reports those, so here the chain just stops.
 */
export function planTarget(
  model: RepoModel,
  t: TargetDef,
  onBadJump: (hop: string) => void = () => {},
  seen: ReadonlySet<string> = new Set(),
): PlannedTarget {
  let jump: PlannedTarget | undefined;
  if (t.jump) {
    const hop = model.targets.get(t.jump);
    if (!hop || seen.has(t.jump)) onBadJump(t.jump);
    else jump = planTarget(model, hop, onBadJump, new Set([...seen, t.id]));
  }
  return {
    name: t.id,
    transport: t.transport,
    ...(t.host !== undefined ? { host: t.host } : {}),
    port: t.port,
    ...(t.user !== undefined ? { user: t.user } : {}),
    ...(t.credential !== undefined ? { credential: t.credential } : {}),
    hostKeys: [...t.hostKeys],
    ...(jump ? { jump } : {}),
    shell: t.shell,
    ...(t.sudo ? { sudo: t.sudo } : {}),
    labels: { ...t.labels },
    vars: { ...t.vars },
  };
}
