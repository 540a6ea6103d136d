/**
 * Cycles that would never end: composite steps using themselves, and `jump`
 * chains that loop; and composite chains deeper than the planner follows.
 */
import { MAX_STEP_DEPTH } from "../../core/repo-model.js";
import type { RepoIndex } from "../repo-index.js";

export function checkCycles(index: RepoIndex): void {
  compositeCycles(index);
  compositeDepth(index);
  jumpCycles(index);
}

/** A library step nesting composites more than MAX_STEP_DEPTH deep cannot be planned wherever it is used. */
function compositeDepth(index: RepoIndex): void {
  const height = new Map<string, number>();
  const active = new Set<string>();
  const measure = (id: string): number => {
    const known = height.get(id);
    if (known !== undefined) return known;
    if (active.has(id)) return 0; // a cycle, reported by compositeCycles
    active.add(id);
    let h = 1;
    for (const child of index.steps.get(id)?.raw.steps ?? []) {
      if (child?.uses !== undefined && index.steps.has(child.uses)) h = Math.max(h, 1 + measure(child.uses));
    }
    active.delete(id);
    height.set(id, h);
    return h;
  };
  for (const id of [...index.steps.keys()].sort()) {
    if (measure(id) <= MAX_STEP_DEPTH) continue;
    const entry = index.steps.get(id)!;
    const deepest = (entry.raw.steps ?? []).findIndex(
      (c) => c?.uses !== undefined && index.steps.has(c.uses) && measure(c.uses) === measure(id) - 1,
    );
    // One message per chain: at the innermost step that is too deep; those using it are too deep because of it.
    if (measure(id) - 1 > MAX_STEP_DEPTH) continue;
    index.report(
      entry.source,
      ["steps", deepest, "uses"],
      "error",
      "step.composite-too-deep",
      `composite steps nest ${measure(id)} deep from "${id}"; at most ${MAX_STEP_DEPTH} can be planned`,
      "flatten the chain: let a composite list the steps of the one it uses",
    );
  }
}

function compositeCycles(index: RepoIndex): void {
  const state = new Map<string, "active" | "done">();
  const reported = new Set<string>();
  const visit = (id: string, chain: string[]): void => {
    state.set(id, "active");
    const entry = index.steps.get(id);
    for (const [i, child] of (entry?.raw.steps ?? []).entries()) {
      const uses = child?.uses;
      if (uses === undefined || !index.steps.has(uses)) continue;
      if (state.get(uses) === "active") {
        const loop = [...chain.slice(chain.indexOf(uses)), id, uses];
        const key = [...loop].sort().join(",");
        if (!reported.has(key)) {
          reported.add(key);
          index.report(
            entry!.source,
            ["steps", i, "uses"],
            "error",
            "step.composite-cycle",
            `composite steps use each other in a cycle: ${loop.join(" -> ")}`,
            "a composite step cannot (indirectly) use itself; break the cycle",
          );
        }
      } else if (state.get(uses) === undefined) {
        visit(uses, [...chain, id]);
      }
    }
    state.set(id, "done");
  };
  for (const id of [...index.steps.keys()].sort()) if (!state.has(id)) visit(id, []);
}

function jumpCycles(index: RepoIndex): void {
  const reported = new Set<string>();
  for (const start of [...index.model.targets.keys()].sort()) {
    const chain: string[] = [];
    let at: string | undefined = start;
    while (at !== undefined && !chain.includes(at)) {
      chain.push(at);
      at = index.model.targets.get(at)?.jump;
    }
    if (at === undefined) continue;
    const loop = chain.slice(chain.indexOf(at));
    const key = [...loop].sort().join(",");
    if (reported.has(key)) continue;
    reported.add(key);
    // Report at the member of the loop listed first, where a reader would look.
    const first = [...loop].sort()[0]!;
    const entry = index.targets.get(first)?.[0];
    if (!entry) continue;
    const own = (entry.source.value as { targets?: Record<string, { jump?: string } | null> }).targets?.[
      first
    ];
    const path = own?.jump !== undefined ? [...entry.path, "jump"] : entry.path;
    index.report(
      entry.source,
      path,
      "error",
      "target.jump-cycle",
      `jump targets form a cycle: ${[...loop, at].join(" -> ")}`,
      "a jump chain must end at a target reached directly; remove one `jump:`",
    );
  }
}
