import picomatch from "picomatch";
import type { TargetDef, TargetSelector } from "../core/repo-model.js";

/** Narrowing from the command line (`--target`, `--match`), applied after the job's own selector. */
export interface TargetFilter {
  names?: string[];
  match?: Record<string, string>;
}

function globMatcher(patterns: string[] | undefined): ((name: string) => boolean) | null {
  if (!patterns || patterns.length === 0) return null;
  const matchers = patterns.map((p) => picomatch(p));
  return (name) => matchers.some((m) => m(name));
}

export function labelsMatch(
  target: TargetDef,
  match: Record<string, string | string[]> | undefined,
): boolean {
  if (!match) return true;
  return Object.entries(match).every(([key, want]) => {
    const have = target.labels[key];
    return have !== undefined && (Array.isArray(want) ? want.includes(have) : want === have);
  });
}

/**
 * Targets a selector picks, in definition order. `names` and `match` together
 * pick the union; with neither, every target is picked (like Ansible's `all`).
 * `exclude` and the command-line filter then narrow the result.
 */
export function selectTargets(
  targets: Iterable<TargetDef>,
  selector: TargetSelector,
  filter: TargetFilter = {},
): TargetDef[] {
  const named = globMatcher(selector.names);
  const excluded = globMatcher(selector.exclude);
  const filterNamed = globMatcher(filter.names);
  const out: TargetDef[] = [];
  for (const t of targets) {
    const picked = named
      ? named(t.id) || (selector.match !== undefined && labelsMatch(t, selector.match))
      : labelsMatch(t, selector.match);
    if (!picked) continue;
    if (excluded?.(t.id)) continue;
    if (filterNamed && !filterNamed(t.id)) continue;
    if (filter.match && !labelsMatch(t, filter.match)) continue;
    out.push(t);
  }
  return out;
}
