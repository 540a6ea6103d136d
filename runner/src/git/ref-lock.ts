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
  try {
    return await git.resolveRef({ fs, gitdir, ref });
  } catch (e) {
    if ((e as { code?: string }).code === "NotFoundError") return null;
    throw e;
  }
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
  fs.mkdirSync(path.dirname(refPath), { recursive: true });
  const fd = await openExclusive(lockPath);
  let renamed = false;
  try {
    const actual = await readRef(gitdir, ref);
    if (actual !== expected) throw new RefMovedError(ref, expected, actual);
    fs.writeSync(fd, `${oid}\n`);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(lockPath, refPath);
    renamed = true;
  } finally {
    if (!renamed) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
}

async function openExclusive(lockPath: string): Promise<number> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let delay = 5;
  for (;;) {
    try {
      return fs.openSync(lockPath, "wx");
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
