/**
 * `opsc libraries update [NAME]`: resolves each library's `ref` on its remote
 * now, fetches that commit into the cache, hashes its steps and rewrites
 * opsconductor.lock. The only way what runs can change: the new lock is then
 * reviewed (`opsc diff` shows the library steps that changed) and committed.
 */
import fs from "node:fs";
import path from "node:path";
import { userError } from "../core/errors.js";
import {
  commitDate,
  commitState,
  fetchLibrary,
  libraryCacheDir,
  readLibraryTree,
  resolveRemoteRef,
} from "../git/library-cache.js";
import { displayUrl } from "../git/display-url.js";
import { authFromEnv } from "../git/remote-auth.js";
import { LOCK_FILE, planLibraries, renderLock, type LockEntry, type LockFile } from "../repo/library-lock.js";
import type { RepoFiles } from "../repo/repo-files.js";
import { stepsHash } from "../repo/steps-hash.js";
import { libraryAuth } from "./read-libraries.js";

export interface LibraryUpdate {
  name: string;
  ref: string;
  before?: string;
  after: string;
}

export interface UpdateResult {
  updates: LibraryUpdate[];
  /** Lock entries dropped because opsconductor.yaml no longer declares them. */
  removed: string[];
  lockFile: string;
}

export async function updateLibraries(
  root: string,
  files: RepoFiles,
  names: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<UpdateResult> {
  const plan = planLibraries(files);
  if (plan.broken) {
    // Rewriting the lock from a declaration that did not load would drop every library.
    throw userError("library.repo-invalid", `opsconductor.yaml or ${LOCK_FILE} has errors`, {
      hint: "run `opsc validate`, fix them, then update the libraries",
    });
  }
  const declared = new Map(plan.declared.map((d) => [d.name, d]));
  for (const name of names) {
    if (!declared.has(name)) {
      throw userError("library.unknown", `opsconductor.yaml declares no library "${name}"`, {
        hint: declared.size
          ? `declared: ${[...declared.keys()].join(", ")}`
          : "declare it under `libraries:` in opsconductor.yaml first (docs/libraries.md)",
      });
    }
  }
  const old: LockFile = plan.lock ?? { version: 1, libraries: {} };
  const lock: LockFile = { version: 1, libraries: {} };
  const updates: LibraryUpdate[] = [];
  for (const decl of declared.values()) {
    const before = old.libraries[decl.name];
    if (names.length > 0 && !names.includes(decl.name) && before) {
      lock.libraries[decl.name] = before;
      continue;
    }
    const onAuth = libraryAuth(authFromEnv(env), decl.credential, files, env);
    const commit = await resolveRemoteRef(decl.url, decl.ref, onAuth, env);
    const gitdir = libraryCacheDir(decl.url, env);
    if ((await commitState(gitdir, commit)) !== "present") await fetchLibrary(gitdir, decl.url, onAuth, env);
    if ((await commitState(gitdir, commit)) !== "present") {
      throw userError(
        "library.commit-missing",
        `${displayUrl(decl.url)} has no commit ${commit} (library "${decl.name}", ref ${decl.ref})`,
        { hint: "give a tag, a branch or a commit the library's repository holds" },
      );
    }
    const { files: steps } = await readLibraryTree(gitdir, commit, decl.path);
    if (steps.size === 0) {
      throw userError(
        "library.no-steps",
        `library "${decl.name}" has no steps at ${decl.ref}: nothing under ${decl.path ? `${decl.path}/` : ""}steps/`,
        { hint: "check `path` (the folder that holds steps/) and `ref` of the library in opsconductor.yaml" },
      );
    }
    const entry: LockEntry = {
      url: decl.url,
      ref: decl.ref,
      commit,
      path: decl.path,
      steps_hash: stepsHash(steps),
      committed_at: await commitDate(gitdir, commit),
    };
    lock.libraries[decl.name] = entry;
    updates.push({
      name: decl.name,
      ref: decl.ref,
      ...(before ? { before: before.commit } : {}),
      after: commit,
    });
  }
  const removed = Object.keys(old.libraries).filter((n) => !declared.has(n));
  const lockFile = path.join(root, LOCK_FILE);
  fs.writeFileSync(lockFile, renderLock(lock));
  return { updates, removed, lockFile };
}
