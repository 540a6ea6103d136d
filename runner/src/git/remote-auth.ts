/**
 * Credentials and URLs for pushing records. isomorphic-git speaks smart HTTP(S)
 * only; a token comes from the environment and reaches it through onAuth,
 * never through a URL or a process argument.
 */
import fs from "node:fs";
import git, { type AuthCallback } from "isomorphic-git";
import { TOKEN_VARIABLES } from "./token-variables.js";

export type { AuthCallback };

export async function remoteUrl(gitdir: string, remote: string): Promise<string | null> {
  const url = (await git.getConfig({ fs, gitdir, path: `remote.${remote}.url` })) as unknown;
  return typeof url === "string" && url !== "" ? url : null;
}

export function isHttpUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

/** Token from OPSC_GIT_TOKEN, GITHUB_TOKEN or GH_TOKEN; username via OPSC_GIT_USERNAME (GitHub ignores it). */
export function authFromEnv(env: NodeJS.ProcessEnv = process.env): AuthCallback | undefined {
  const token = TOKEN_VARIABLES.map((v) => env[v]).find((v) => v !== undefined && v !== "");
  if (!token) return undefined;
  const username = env.OPSC_GIT_USERNAME || "x-access-token";
  return () => ({ username, password: token });
}
