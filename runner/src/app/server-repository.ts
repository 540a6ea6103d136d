/**
 * The Git side of `opsc serve`: its mirror of the automation repository and the
 * claims replicas take on it (leases on the remote, or git's lock file in a
 * local repository). The server door asks for them here and never opens Git itself.
 */
import path from "node:path";
import { LocalClaims, RemoteClaims, type Claims } from "../git/claims.js";
import { displayUrl } from "../git/display-url.js";
import { openMirror, type RepoMirror } from "../git/repo-mirror.js";

export interface ServerRepository {
  mirror: RepoMirror;
  claims: Claims | undefined;
  /** The repository's URL or path as logs may show it: credentials masked. */
  shownAs: string;
  /** The mirror's remote URL, credentials masked; undefined for a local repository. */
  remoteShownAs: string | undefined;
}

/**
 * `claims`: true (the default) claims on the mirror's remote or repository,
 * false claims nothing (a single replica), or an instance to use.
 */
export async function openServerRepository(
  repo: string,
  stateDir: string,
  claims: boolean | Claims = true,
): Promise<ServerRepository> {
  const mirror = await openMirror(repo, path.resolve(stateDir));
  const chosen =
    typeof claims === "object"
      ? claims
      : claims
        ? mirror.url
          ? new RemoteClaims(mirror.gitdir, mirror.url)
          : new LocalClaims(mirror.gitdir)
        : undefined;
  return {
    mirror,
    claims: chosen,
    shownAs: displayUrl(repo),
    remoteShownAs: mirror.url ? displayUrl(mirror.url) : undefined,
  };
}
