/**
 * The redactor of `opsc serve`: it masks the runner's own secrets (tokens,
 * age identities) in everything the server logs and answers and in every run.
 */
import { Redactor } from "../secrets/redactor.js";
import { runnerSecrets } from "../secrets/runner-secrets.js";

export type { Redactor };

export async function runnerRedactor(env: NodeJS.ProcessEnv = process.env): Promise<Redactor> {
  const redactor = new Redactor();
  for (const value of await runnerSecrets(env)) redactor.add(value);
  return redactor;
}
