/**
 * The runner's local state for one automation repository: the crash journal,
 * the records lock, pending pushes. `$OPSC_STATE_DIR`, else `.git/opsconductor/`
 * (inside the git dir so it is never committed and never seen by `git status`).
 */
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { environmentError } from "../core/errors.js";
import { writeFileAtomic } from "../fs/write-file-atomic.js";
import { findGitDir } from "../git/git-dir.js";
import type { GitRepository } from "../git/git-repository.js";
import { runnerStateDir } from "./runner-state-dir.js";

/**
 * The git dir the records of the repository at `repoDir` go to: the Git
 * adapter's when the caller has one (the workspace located it, see
 * app/workspace.ts), else the one `repoDir` holds.
 */
export function recordsGitDir(repoDir: string, git?: GitRepository): string {
  return git?.gitdir ?? findGitDir(repoDir);
}

/** The state directory of that repository, created if missing. */
export function stateDir(repoDir: string, env: NodeJS.ProcessEnv = process.env, git?: GitRepository): string {
  const dir = runnerStateDir(recordsGitDir(repoDir, git), env);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Owner {
  pid: number;
  host: string;
  /**
   * Random per process. Pids are reused (containers start every process as a
   * low pid), so a pid equal to ours proves nothing; the token does.
   */
  token?: string;
}

const PROCESS_TOKEN = randomBytes(8).toString("hex");

export function me(): Owner {
  return { pid: process.pid, host: os.hostname(), token: PROCESS_TOKEN };
}

/** False only when we can tell for sure: same host and no such process (or an earlier one with our pid). */
export function isAlive(owner: Owner): boolean {
  if (owner.host !== os.hostname()) return true;
  if (owner.pid === process.pid) return owner.token === PROCESS_TOKEN;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

const LOCK_WAIT_MS = 180_000;

/**
 * Serialises record writing between OpsConductor processes on one repository
 * (the CLI and a server may both finish runs). Holds the owner's pid so a lock
 * left by a killed process is taken over instead of blocking forever.
 */
export async function withRecordsLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lockPath = path.join(dir, "records.lock");
  const deadline = Date.now() + LOCK_WAIT_MS;
  let delay = 10;
  for (;;) {
    try {
      fs.writeFileSync(lockPath, JSON.stringify(me()), { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let owner: Owner | null;
      try {
        owner = JSON.parse(fs.readFileSync(lockPath, "utf8")) as Owner;
      } catch {
        owner = null; // being written right now, or gone: try again
      }
      if (owner && !isAlive(owner)) {
        // Rename first so two processes cannot both remove it and both proceed.
        const stale = `${lockPath}.stale-${process.pid}`;
        try {
          fs.renameSync(lockPath, stale);
          fs.rmSync(stale, { force: true });
        } catch {
          // someone else took it over first
        }
        continue;
      }
      if (Date.now() > deadline) {
        throw environmentError(
          "records.locked",
          `records are locked by ${JSON.stringify(owner)} for too long`,
          {
            hint: `another opsc process is writing records; if it is gone, delete ${lockPath}`,
          },
        );
      }
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 250);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockPath, { force: true });
  }
}

export interface PendingPush {
  /** Real path of the git dir the records wait in (a state dir may serve several repositories). */
  repo: string;
  branch: string;
  runs: string[];
  reason: string;
  since: string;
}

function pendingPath(dir: string): string {
  return path.join(dir, "records-pending.json");
}

export function readPending(dir: string): PendingPush | null {
  try {
    return JSON.parse(fs.readFileSync(pendingPath(dir), "utf8")) as PendingPush;
  } catch {
    return null;
  }
}

export function writePending(dir: string, pending: PendingPush): void {
  const file = pendingPath(dir);
  writeFileAtomic(file, `${JSON.stringify(pending, null, 2)}\n`);
}

export function clearPending(dir: string): void {
  fs.rmSync(pendingPath(dir), { force: true });
}
