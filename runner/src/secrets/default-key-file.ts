/**
 * Where sops looks for age identities on Linux. A module of its own: the run
 * masks this file's keys without loading age (see runner-secrets.ts).
 */
import { homedir } from "node:os";
import { join } from "node:path";

/** The default key file location of sops on Linux. */
export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== ""
      ? env.XDG_CONFIG_HOME
      : join(env.HOME ?? homedir(), ".config");
  return join(base, "sops", "age", "keys.txt");
}
