/**
 * Which jobs a push runs: pure matching of a pushed ref and the paths it
 * changed against each job's `on.push`. No Git I/O here, so the rules are
 * tested from data; changed-paths.ts computes the input.
 */
import picomatch from "picomatch";
import { branchOf } from "../core/branch-of.js";
import type { JobDef, RepoModel } from "../core/repo-model.js";

export interface PushFacts {
  /** `refs/heads/main`, or a bare branch name. */
  ref: string;
  /** Repository-relative posix paths that differ between before and after. */
  changed: readonly string[];
  /** The records branch (settings.records.branch): pushes to it never trigger. */
  recordsBranch: string;
}

/** Jobs whose `on.push` selects this push, sorted by id. */
export function jobsForPush(model: RepoModel, facts: PushFacts): JobDef[] {
  const branch = branchOf(facts.ref);
  if (branch === undefined || branch === facts.recordsBranch) return [];
  const out: JobDef[] = [];
  for (const job of model.jobs.values()) {
    const push = job.on.push;
    if (!push) continue;
    if (!globsMatch(push.branches, branch, true)) continue;
    if (push.paths.length > 0 && !facts.changed.some((p) => globsMatch(push.paths, p, false))) continue;
    out.push(job);
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * GitHub Actions semantics: an empty branch list means every branch; a pattern
 * starting with `!` excludes what earlier patterns included (last match wins).
 */
function globsMatch(patterns: readonly string[], value: string, emptyMeansAll: boolean): boolean {
  if (patterns.length === 0) return emptyMeansAll;
  let matched = patterns.every((p) => p.startsWith("!"));
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    const glob = negated ? pattern.slice(1) : pattern;
    if (matcher(glob)(value)) matched = !negated;
  }
  return matched;
}

const matchers = new Map<string, (s: string) => boolean>();
function matcher(glob: string): (s: string) => boolean {
  let fn = matchers.get(glob);
  if (!fn) {
    fn = picomatch(glob, { dot: true });
    matchers.set(glob, fn);
  }
  return fn;
}
