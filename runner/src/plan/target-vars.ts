/**
 * A target's variables, merged in the documented order (docs/variables-and-facts.md):
 * vars/*.yaml in name order (those whose `match` fits the target's labels), then
 * the target's own `vars`, then the job's `vars`. A later value replaces an earlier
 * one key by key at the top level, as Ansible's default `hash_behaviour: replace`.
 * Each value keeps where it came from, for `opsc targets show` and plans.
 */
import type { SourcePosition } from "../core/errors.js";
import type { JobDef, RepoModel, TargetDef } from "../core/repo-model.js";
import { labelsMatch } from "./select-targets.js";

export interface MergedVars {
  vars: Record<string, unknown>;
  /** Variable name -> `file:line:col` of the definition that won. */
  from: Record<string, string>;
}

function where(p: SourcePosition): string {
  return `${p.file}:${p.line}:${p.col}`;
}

export function targetVars(model: RepoModel, target: TargetDef, job?: JobDef): MergedVars {
  const vars: Record<string, unknown> = {};
  const from: Record<string, string> = {};
  for (const file of model.vars ?? []) {
    if (!labelsMatch(target, file.match)) continue;
    for (const [name, value] of Object.entries(file.vars)) {
      vars[name] = value;
      from[name] = where(file.positions[name] ?? file.source);
    }
  }
  for (const [name, value] of Object.entries(target.vars)) {
    vars[name] = value;
    from[name] = where(target.source);
  }
  if (job) {
    for (const [name, value] of Object.entries(job.vars ?? {})) {
      vars[name] = value;
      from[name] = `${job.source.file}`;
    }
  }
  return { vars, from };
}
