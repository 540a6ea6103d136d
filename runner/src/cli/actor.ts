import { userInfo } from "node:os";

/**
 * Who started a run from the command line, for the record and the audit
 * trail: `OPSC_ACTOR` when set (a wrapper script names the person), the GitHub
 * user inside GitHub Actions, else the operating-system user.
 */
export function cliActor(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OPSC_ACTOR) return env.OPSC_ACTOR;
  if (env.GITHUB_ACTIONS === "true" && env.GITHUB_ACTOR) return `github:${env.GITHUB_ACTOR}`;
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? "unknown";
  }
}
