/**
 * The environment a run sees: the age key as SOPS_AGE_KEY (read in memory,
 * never written to disk) and the token that pushes records as GITHUB_TOKEN.
 * Passed to executeJob, not exported to the process, so steps' scripts never
 * inherit them.
 */
import type { ActionInputs } from "./action-inputs.js";

export function runEnv(inputs: ActionInputs, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    ...(inputs.ageKey ? { SOPS_AGE_KEY: inputs.ageKey } : {}),
    ...(inputs.githubToken ? { GITHUB_TOKEN: inputs.githubToken } : {}),
  };
}
