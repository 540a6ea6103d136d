/**
 * Moves a ref the way git does: create `<ref>.lock` exclusively, check the
 * ref still holds what we built on, write the new id into the lock, rename it
 * over the ref. isomorphic-git's writeRef is not compare-and-swap (see
 * notes/performance.md), and native git honours the same lock file.
 */
import fs from "node:fs";
import path from "node:path";
import git from "isomorphic-git";
import { environmentError } from "../core/errors.js";

export class RefMovedError extends Error {
  constructor(
    readonly ref: string,
    readonly expected: string | null,
    readonly actual: string | null,
  ) {
    super(`${ref} moved from ${expected ?? "(none)"} to ${actual ?? "(none)"}`);
    this.name = "RefMovedError";
  }
}

export async function readRef(gitdir: string, ref: string): Promise<string | null> {
  const direct = ref.startsWith("refs/") ? readFullRef(gitdir, ref) : undefined;
  if (direct !== undefined) return direct;
  try {
    return await git.resolveRef({ fs, gitdir, ref });
  } catch (e) {
    if ((e as { code?: string }).code === "NotFoundError") return null;
    throw e;
  }
}

/**
 * A full ref name's commit as git finds it: the loose file, else its line in
 * packed-refs; null when neither has it; undefined when the file holds
 * something else (a symbolic ref), for isomorphic-git to follow. A run reads
 * a lock ref per target several times, and isomorphic-git tries six paths and
 * re-reads packed-refs for each: at 100 targets that was most of the locks'
 * time.
 */
function readFullRef(gitdir: string, ref: string): string | null | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(gitdir, ...ref.split("/")), "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return packedRef(gitdir, ref);
    return undefined;
  }
  const oid = text.trim();
  return OID.test(oid) ? oid : undefined;
}

const OID = /^[0-9a-f]{40}$/;

function packedRef(gitdir: string, ref: string): string | null | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(gitdir, "packed-refs"), "utf8");
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? null : undefined;
  }
  // Lines are `<oid> <ref>`; `#` starts the header, `^` the peeled id of the tag above.
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    if (space !== 40 || line.slice(space + 1).trimEnd() !== ref) continue;
    const oid = line.slice(0, space);
    return OID.test(oid) ? oid : undefined;
  }
  return null;
}

const LOCK_WAIT_MS = 10_000;

/**
 * Sets `ref` (full name, `refs/heads/...`) to `oid` if it still points at
 * `expected` (null: must not exist). Throws RefMovedError otherwise.
 */
export async function compareAndSwapRef(
  gitdir: string,
  ref: string,
  expected: string | null,
  oid: string,
): Promise<void> {
  const refPath = path.join(gitdir, ...ref.split("/"));
  const lockPath = `${refPath}.lock`;
  await fs.promises.mkdir(path.dirname(refPath), { recursive: true });
  // Asynchronous, so a run's batch of refs (its target locks) is written and
  // fsynced in parallel off the event loop instead of one fsync after another.
  const file = await openExclusive(lockPath);
  let closed = false;
  let renamed = false;
  try {
    const actual = await readRef(gitdir, ref);
    if (actual !== expected) throw new RefMovedError(ref, expected, actual);
    await file.writeFile(`${oid}\n`);
    await file.sync();
    closed = true;
    await file.close();
    await fs.promises.rename(lockPath, refPath);
    renamed = true;
  } finally {
    if (!renamed) {
      if (!closed) await file.close().catch(() => undefined);
      await fs.promises.rm(lockPath, { force: true });
    }
  }
}

async function openExclusive(lockPath: string): Promise<fs.promises.FileHandle> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let delay = 5;
  for (;;) {
    try {
      return await fs.promises.open(lockPath, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (Date.now() > deadline) {
        throw environmentError(
          "git.ref-locked",
          `${lockPath} has existed for more than ${LOCK_WAIT_MS / 1000} s`,
          {
            hint: "another git process holds the ref; if none is running, a crashed one left the lock: delete the file",
          },
        );
      }
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 200);
    }
  }
}
