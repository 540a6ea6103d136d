/**
 * The runner's own secrets: the tokens and age identities the process that
 * runs jobs holds. A step on the `local` target runs as the same OS user, so it
 * can read them even though they are not in its environment (the initial
 * environment of its parent stays readable in /proc/PPID/environ, whatever the
 * parent later unsets; identity files are readable by the same user). Every run
 * masks them, so a step that prints them leaves `***` in the record. Masking
 * only catches verbatim values; real separation is running local steps as
 * another user (docs/server.md).
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { TOKEN_VARIABLES } from "../git/remote-auth.js";
import { defaultKeyFile } from "./default-key-file.js";

/** Variables that hold a runner secret as their value. */
const SECRET_VARIABLES = ["OPSC_WEBHOOK_SECRET", "OPSC_API_TOKEN", ...TOKEN_VARIABLES, "SOPS_AGE_KEY"];

/** Values to register with a run's redactor; files that cannot be read are skipped (they cannot leak either). */
export async function runnerSecrets(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const values: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const v = env[name];
    if (v !== undefined && v.trim() !== "") values.push(...secretParts(v));
  }
  const files = [
    env.SOPS_AGE_KEY_FILE,
    defaultKeyFile(env),
    env.SOPS_AGE_SSH_PRIVATE_KEY_FILE || join(env.HOME ?? homedir(), ".ssh", "id_ed25519"),
  ];
  for (const file of files) {
    if (!file) continue;
    const text = await readFile(file, "utf8").catch(() => undefined);
    if (text !== undefined) values.push(...secretParts(text));
  }
  return values;
}

/** An age identity text gives its key lines (its comments name the public key); anything else is one value. */
function secretParts(text: string): string[] {
  const keys = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith("AGE-SECRET-KEY-"));
  return keys.length > 0 ? keys : [text];
}
