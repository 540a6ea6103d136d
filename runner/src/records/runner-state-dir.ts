/**
 * Where the runner's local state is for the repository in `gitdir`:
 * `$OPSC_STATE_DIR`, else `<gitdir>/opsconductor`. The one rule: the workspace
 * (app/workspace.ts) and the records (state-dir.ts) both apply it. A module of
 * its own so that finding the workspace loads nothing else of the records.
 */
import path from "node:path";

export function runnerStateDir(gitdir: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.OPSC_STATE_DIR ? path.resolve(env.OPSC_STATE_DIR) : path.join(gitdir, "opsconductor");
}
