import { homedir } from "node:os";
import { join } from "node:path";

/** Where sops itself looks for age identities when SOPS_AGE_KEY_FILE is unset. Kept apart from the age code so callers that only need the path load no crypto. */
export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== ""
      ? env.XDG_CONFIG_HOME
      : join(env.HOME ?? homedir(), ".config");
  return join(base, "sops", "age", "keys.txt");
}
