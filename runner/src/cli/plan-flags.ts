/**
 * The flags that shape a plan (`--input`, `--target`, `--match`, `--commit`,
 * `--check`, `--shard`, `--tags`, `--skip-tags`, `--start-at`) and the one
 * translation of them into a plan request: `opsc plan` shows the plan that
 * `opsc approve` signs only if both read the flags the same way.
 */
import type { RepoSource } from "../app/load-plan.js";
import type { PlanRequest } from "../plan/build-plan.js";
import { cliActor } from "./actor.js";
import { findRepoRoot } from "../app/workspace.js";
import { parseShard, stepSelection } from "./input-flags.js";

/** What `addJobOptions` (input-flags.ts) gives every command that picks a job's work. */
export interface JobFlags {
  repo?: string;
  input?: Record<string, string>;
  target?: string[];
  match?: Record<string, string>;
  tags?: string[];
  skipTags?: string[];
  startAt?: string;
}

export interface PlanFlags extends JobFlags {
  commit?: string;
  check?: boolean;
  /** `K/N`: only shard K of N. */
  shard?: string;
}

export function planSourceAndRequest(
  job: string,
  flags: PlanFlags,
): { source: RepoSource; request: Omit<PlanRequest, "commit"> } {
  const selection = stepSelection(flags);
  return {
    source: { repoDir: findRepoRoot(flags.repo), ...(flags.commit ? { commit: flags.commit } : {}) },
    request: {
      job,
      inputs: flags.input ?? {},
      fromText: true,
      trigger: { kind: "manual", actor: cliActor() },
      filter: {
        ...(flags.target ? { names: flags.target } : {}),
        ...(flags.match ? { match: flags.match } : {}),
      },
      checkMode: flags.check ?? false,
      ...(flags.shard ? { shard: parseShard(flags.shard) } : {}),
      ...(selection ? { selection } : {}),
    },
  };
}
