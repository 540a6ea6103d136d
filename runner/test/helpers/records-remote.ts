/**
 * What the tests of records on a remote share: a scratch folder holding real
 * `git http-backend` servers (git-http-server.ts), closed and removed after
 * the test file; git run in it; and the run summaries they commit.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll } from "vitest";
import type { RunSummary } from "../../src/core/run-summary.js";
import { startGitHttpServer, type GitHttpServer } from "./git-http-server.js";

export const RECORDS_BRANCH = "opsconductor/runs";
/** Records on RECORDS_BRANCH, pushed to origin. */
export const recordsSettings = { records: { branch: RECORDS_BRANCH, push: true } };

export interface RecordsRemote {
  scratch: string;
  /** A new Git server (an empty root of its own) in the scratch folder. */
  server(options?: { token?: string }): Promise<GitHttpServer>;
}

/** A scratch folder for one test file; call at the file's top level. */
export function recordsRemote(prefix: string): RecordsRemote {
  const scratch = mkdtempSync(join(tmpdir(), prefix));
  const servers: GitHttpServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(scratch, { recursive: true, force: true });
  });
  return {
    scratch,
    async server(options = {}) {
      const s = await startGitHttpServer({ ...options, root: mkdtempSync(join(scratch, "srv-")) });
      servers.push(s);
      return s;
    },
  };
}

export function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" });
}

/** Git commands that talk to the in-process server must not block its event loop. */
export async function gitNet(dir: string, ...args: string[]): Promise<string> {
  return (await promisify(execFile)("git", ["-C", dir, ...args], { encoding: "utf8" })).stdout;
}

/**
 * A one-target run of `job` that started at 03:`minute` on 2026-11-22 and
 * took a second; `serial` makes its id unique within the test file.
 */
export function runSummary(
  job: string,
  serial: number,
  options: { minute: number; result?: RunSummary["result"] },
): RunSummary {
  const mm = String(options.minute).padStart(2, "0");
  return {
    id: `20261122T03${mm}${String(serial).padStart(2, "0")}Z-${job}-${(0x1000 * (options.minute - 14) + serial).toString(16)}`,
    job,
    result: options.result ?? "success",
    startedAt: `2026-11-22T03:${mm}:00.000Z`,
    finishedAt: `2026-11-22T03:${mm}:01.000Z`,
    trigger: { kind: "manual", actor: "alice" },
    actor: "alice",
    inputs: {},
    checkMode: false,
    targets: [
      {
        name: "web-1",
        phase: "main",
        outcome: "ok",
        ms: 5,
        steps: [{ id: "s", outcome: "ok", ms: 4, attempts: 1 }],
      },
    ],
    counts: { ok: 1, changed: 0, failed: 0, skipped: 0, unreachable: 0, timed_out: 0, cancelled: 0 },
  };
}
