/**
 * Reads the step libraries an automation repository pins, at exactly the
 * commits opsconductor.lock names, for the loader. Every door (validate,
 * plan, run, diff, the action and the server) loads libraries through here,
 * so a moved tag or branch changes nothing until the lock changes.
 *
 * The machine-wide cache is used first and without the network; the remote is
 * asked only for a commit the cache lacks, or when the cache is found damaged
 * (then the entry is fetched again from scratch).
 */
import type { Diagnostic } from "../core/diagnostic.js";
import { environmentError, isOpscError, OpscError } from "../core/errors.js";
import { displayUrl } from "../git/display-url.js";
import type { AuthCallback } from "../git/remote-auth.js";
import { planLibraries, type LibraryPin, LOCK_FILE } from "../repo/library-lock.js";
import type { LibrarySet, LoadedLibrary } from "../repo/load-repo.js";
import type { RepoFiles } from "../repo/repo-files.js";
import { stepsHash } from "../repo/steps-hash.js";

export interface ReadLibrariesOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Only these URLs get the token or credential; others are fetched without.
   * For a pull request's head, whose opsconductor.yaml anyone may have written:
   * a changed `url` must not carry the runner's token to someone else's server.
   */
  trustedUrls?: ReadonlySet<string>;
}

export async function readLibraries(
  files: RepoFiles,
  options: ReadLibrariesOptions = {},
): Promise<LibrarySet> {
  const env = options.env ?? process.env;
  const plan = planLibraries(files);
  const pinned = new Set(plan.pins.map((p) => p.name));
  const set: LibrarySet = {
    libraries: [],
    diagnostics: [...plan.diagnostics],
    unavailable: plan.declared.map((d) => d.name).filter((n) => !pinned.has(n)),
  };
  if (plan.pins.length === 0) return set;
  // Git is loaded only by a repository that uses libraries: `validate` stays light otherwise.
  const [cache, { authFromEnv }] = await Promise.all([
    import("../git/library-cache.js"),
    import("../git/remote-auth.js"),
  ]);
  for (const pin of plan.pins) {
    const trusted = options.trustedUrls === undefined || options.trustedUrls.has(pin.url);
    const onAuth = trusted ? libraryAuth(authFromEnv(env), pin.credential, files, env) : undefined;
    const got = await readPinned(cache, pin, onAuth, env);
    if ("code" in got) {
      set.diagnostics.push(got);
      set.unavailable!.push(pin.name);
    } else set.libraries.push(got);
  }
  return set;
}

/**
 * How a library's remote is authenticated: a token from the environment
 * (OPSC_GIT_TOKEN first), else the library's credential reference, decrypted
 * only if the server asks.
 */
export function libraryAuth(
  fromEnv: AuthCallback | undefined,
  credential: string | undefined,
  files: RepoFiles,
  env: NodeJS.ProcessEnv,
): AuthCallback | undefined {
  if (fromEnv || !credential) return fromEnv;
  return async () => {
    const [{ CredentialStore }, { Redactor }] = await Promise.all([
      import("../secrets/credential-store.js"),
      import("../secrets/redactor.js"),
    ]);
    const token = await CredentialStore.forFiles(files.files, new Redactor(), env).get(credential);
    if (typeof token !== "string") {
      throw environmentError(
        "library.bad-credential",
        `credential ${credential} is a mapping, not a token (a library's credential must name one value)`,
        { hint: "give the key of the token, e.g. git/token for key `token` of credentials/git.sops.yaml" },
      );
    }
    return { username: env.OPSC_GIT_USERNAME || "x-access-token", password: token };
  };
}

type Cache = typeof import("../git/library-cache.js");

async function readPinned(
  { commitState, discardLibraryCache, fetchLibrary, libraryCacheDir, readLibraryTree }: Cache,
  pin: LibraryPin,
  onAuth: AuthCallback | undefined,
  env: NodeJS.ProcessEnv,
): Promise<LoadedLibrary | Diagnostic> {
  const gitdir = libraryCacheDir(pin.url, env);
  // Which library needed the fetch, and why: the remote's own error names only its URL.
  const fetch = async (why: string): Promise<void> => {
    try {
      await fetchLibrary(gitdir, pin.url, onAuth, env);
    } catch (e) {
      if (!isOpscError(e)) throw e;
      throw new OpscError(e.kind, e.code, `library "${pin.name}" ${why}; ${e.message}`, {
        ...(e.hint !== undefined ? { hint: e.hint } : {}),
        position: pin.at,
        cause: e,
      });
    }
  };
  const pinned = `(${LOCK_FILE} pins ${pin.commit.slice(0, 12)})`;
  let state = await commitState(gitdir, pin.commit);
  if (state === "damaged") discardLibraryCache(gitdir);
  if (state !== "present") {
    await fetch(`${pinned} is not in this machine's library cache`);
    state = await commitState(gitdir, pin.commit);
    if (state !== "present") return commitMissing(pin);
  }
  const tryRead = async (): Promise<Map<string, Uint8Array> | undefined> => {
    try {
      return (await readLibraryTree(gitdir, pin.commit, pin.path)).files;
    } catch {
      return undefined;
    }
  };
  let files = await tryRead();
  if (files === undefined || stepsHash(files) !== pin.stepsHash) {
    // A damaged or tampered cache entry: start it over from the remote, once.
    discardLibraryCache(gitdir);
    await fetch(`${pinned} does not match the lock in this machine's library cache`);
    if ((await commitState(gitdir, pin.commit)) !== "present") return commitMissing(pin);
    files = await tryRead();
    if (files === undefined) {
      throw environmentError(
        "library.cache-unreadable",
        `library "${pin.name}" at ${pin.commit} cannot be read from the cache, even after fetching it again`,
        { hint: `check the disk and permissions of ${gitdir}, or set OPSC_CACHE_DIR to another folder` },
      );
    }
    if (stepsHash(files) !== pin.stepsHash) {
      return {
        ...pin.at,
        severity: "error",
        code: "library.hash-mismatch",
        message: `library "${pin.name}" at ${pin.commit} does not hold the steps ${LOCK_FILE} locked (their hash is ${stepsHash(files)}, the lock says ${pin.stepsHash})`,
        hint: `the lock was edited by hand or its path changed; run \`opsc libraries update ${pin.name}\`, review what \`opsc diff\` shows and commit the new lock`,
      };
    }
  }
  return {
    name: pin.name,
    url: pin.url,
    ref: pin.ref,
    commit: pin.commit,
    path: pin.path,
    files,
  };
}

function commitMissing(pin: LibraryPin): Diagnostic {
  return {
    ...pin.at,
    severity: "error",
    code: "library.commit-missing",
    message: `${LOCK_FILE} pins library "${pin.name}" to commit ${pin.commit}, which ${displayUrl(pin.url)} does not have (its history was rewritten, or the commit was never pushed)`,
    hint: `run \`opsc libraries update ${pin.name}\` to pin what ${pin.ref} names now, review the diff and commit the lock`,
  };
}
