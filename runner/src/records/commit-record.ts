/**
 * After a run: write its record as one commit on the records branch and push
 * it. The local commit always happens first, so a record is never lost to a
 * network or a refusing server; an unpushed record is marked pending and
 * pushed at the next start (`pushPendingRecords`).
 */
import fs from "node:fs";
import { errorText } from "../core/error-text.js";
import type { Settings } from "../core/repo-model.js";
import type { RunSummary } from "../core/run-summary.js";
import { GitRepository } from "../git/git-repository.js";
import { RefMovedError } from "../git/ref-lock.js";
import type { Redactor } from "../secrets/redactor.js";
import { isOpscError } from "../core/errors.js";
import { buildAuditEntry, renderAuditLine } from "./audit-chain.js";
import { readKnownTip, REWRITTEN } from "./known-tip.js";
import { pushRecords, type PushOutcome } from "./push-records.js";
import { buildRecordCommit, DEFAULT_AUTHOR, hasRun, recordMessage, type Signature } from "./record-commit.js";
import { runDir, targetLogPath } from "./record-paths.js";
import { maskSummaryText } from "../secrets/mask-run-text.js";
import { renderRunJson } from "./render-run-json.js";
import { renderRunReadme } from "./render-readme.js";
import {
  clearPending,
  readPending,
  recordsGitDir,
  stateDir,
  withRecordsLock,
  writePending,
} from "./state-dir.js";

export interface CommitRecordOptions {
  repoDir: string;
  settings: Pick<Settings, "records">;
  summary: RunSummary;
  /** Target name -> log text (RunRecorder.targetLogs()). */
  logs: Map<string, string> | Record<string, string>;
  /**
   * `false` (`--no-push`) keeps the record local. Pushing also needs the repository's
   * `records.push` setting, which is policy: a flag can turn pushing off, never on.
   */
  push?: boolean;
  /** Masks the summary's text fields once more before it is written. */
  redactor?: Redactor;
  author?: Signature;
  now?: () => Date;
  env?: NodeJS.ProcessEnv;
  /** The Git adapter on the repository (its object cache is reused); default: a new one. */
  git?: GitRepository;
}

export interface CommitRecordResult {
  runId: string;
  /** `runs/YYYY/MM/DD/<id>` on the records branch. */
  path: string;
  branch: string;
  /** The local commit that holds the record (before any rebuild for the push). */
  commit: string;
  /** True when the branch already held this run (recovery after a crash between commit and cleanup). */
  existed: boolean;
  push: PushOutcome;
}

export function recordFiles(
  summary: RunSummary,
  logs: Map<string, string>,
): Array<{ path: string; content: string }> {
  const files = [
    { path: "run.json", content: renderRunJson(summary) },
    { path: "README.md", content: renderRunReadme(summary) },
  ];
  for (const [target, text] of logs) files.push({ path: targetLogPath(target), content: text });
  return files;
}

export async function commitRecord(opts: CommitRecordOptions): Promise<CommitRecordResult> {
  const gitdir = recordsGitDir(opts.repoDir, opts.git);
  const env = opts.env ?? process.env;
  const dir = stateDir(opts.repoDir, env, opts.git);
  const repo = opts.git ?? new GitRepository(gitdir);
  const now = opts.now ?? (() => new Date());
  const branch = opts.settings.records.branch;
  const ref = `refs/heads/${branch}`;
  // Text only: logs were built from masked lines, and structure (ids, timestamps, exit codes) is never masked.
  const summary = opts.redactor ? maskSummaryText(opts.summary, opts.redactor) : opts.summary;
  const logs = opts.logs instanceof Map ? opts.logs : new Map(Object.entries(opts.logs));
  const path = runDir(summary.id);
  const files = recordFiles(summary, logs);

  return withRecordsLock(dir, async () => {
    let commit: string | null = null;
    let existed = false;
    for (let tries = 0; commit === null; tries++) {
      const local = await repo.readRef(ref);
      // A fresh clone has the branch only as origin's: continue its chain instead of starting a new one.
      // The known tip comes first: a fetch may have moved the remote-tracking ref to a rewritten history.
      const parent =
        local ?? (await readKnownTip(repo, branch)) ?? (await repo.readRef(`refs/remotes/origin/${branch}`));
      if (parent) {
        const c = await repo.readCommit(parent);
        if (await hasRun(repo, c.tree, path)) {
          commit = parent;
          existed = true;
          break;
        }
      }
      const oid = await buildRecordCommit(
        repo,
        parent,
        {
          runId: summary.id,
          dir: path,
          files,
          auditLine: (head, at) => renderAuditLine(buildAuditEntry(summary, files, head, at)),
          message: recordMessage(summary),
          author: opts.author ?? DEFAULT_AUTHOR,
        },
        now(),
      );
      try {
        await repo.compareAndSwapRef(ref, local, oid);
        commit = oid;
      } catch (e) {
        // Only a non-OpsConductor writer can move it while we hold the records lock.
        if (!(e instanceof RefMovedError) || tries > 20) throw e;
      }
    }
    const wantPush = opts.push !== false && opts.settings.records.push;
    if (!wantPush)
      return {
        runId: summary.id,
        path,
        branch,
        commit,
        existed,
        push: { status: "skipped", attempts: 0, rebuilt: [] },
      };
    const push = await pushLocked(repo, dir, branch, [summary.id], now, env);
    return { runId: summary.id, path, branch, commit, existed, push };
  });
}

async function pushLocked(
  repo: GitRepository,
  dir: string,
  branch: string,
  runs: string[],
  now: () => Date,
  env: NodeJS.ProcessEnv,
): Promise<PushOutcome> {
  let push: PushOutcome;
  try {
    push = await pushRecords({ gitdir: repo.gitdir, git: repo, branch, now, env });
  } catch (e) {
    push =
      isOpscError(e) && e.code === REWRITTEN
        ? {
            status: "rewritten",
            reason: e.message,
            code: e.code,
            ...(e.hint ? { hint: e.hint } : {}),
            attempts: 1,
            rebuilt: [],
          }
        : { status: "failed", reason: errorText(e), attempts: 1, rebuilt: [] };
  }
  if (push.status === "refused" || push.status === "failed" || push.status === "rewritten") {
    const where = fs.realpathSync(repo.gitdir);
    const before = readPending(dir);
    const same = before?.branch === branch && before.repo === where;
    writePending(dir, {
      repo: where,
      branch,
      runs: [...new Set([...(same ? before.runs : []), ...runs])],
      reason: push.reason ?? push.status,
      since: (same ? before.since : undefined) ?? now().toISOString(),
    });
  } else if (push.status === "pushed" || push.status === "already-landed" || push.status === "up-to-date") {
    if (readPending(dir)?.repo === fs.realpathSync(repo.gitdir)) clearPending(dir);
  }
  return push;
}

/**
 * Pushes records a refused or failed push left behind. Called at start by the
 * CLI and the server (through recoverInterrupted). Null when nothing was pending.
 */
export async function pushPendingRecords(
  repoDir: string,
  settings: Pick<Settings, "records">,
  options: { env?: NodeJS.ProcessEnv; git?: GitRepository; now?: () => Date } = {},
): Promise<(PushOutcome & { runs: string[] }) | null> {
  const env = options.env ?? process.env;
  const dir = stateDir(repoDir, env, options.git);
  const gitdir = recordsGitDir(repoDir, options.git);
  const repo = fs.realpathSync(gitdir);
  if (readPending(dir)?.repo !== repo) return null;
  return withRecordsLock(dir, async () => {
    const again = readPending(dir);
    if (!again || again.repo !== repo) return null;
    const push = await pushLocked(
      options.git ?? new GitRepository(gitdir),
      dir,
      again.branch,
      again.runs,
      options.now ?? (() => new Date()),
      env,
    );
    return { ...push, runs: again.runs };
  });
}
