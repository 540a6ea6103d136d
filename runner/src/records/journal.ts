/**
 * Crash safety. Every event of a run is appended to a journal file in the
 * state directory as it happens (a synchronous write: it reaches the kernel
 * before the next event, so SIGKILL loses at most the line being written).
 * A finished and recorded run deletes its journal. At the next start,
 * `recoverInterrupted` records every journal left behind by a dead process:
 * as `interrupted` with its last finished step, or with its real result when
 * it finished but died before the commit.
 */
import fs from "node:fs";
import path from "node:path";
import { errorText } from "../core/error-text.js";
import { isOpscError } from "../core/errors.js";
import type { Plan } from "../core/plan-model.js";
import type { Settings } from "../core/repo-model.js";
import type { RunEvent, RunEventListener, RunResult } from "../core/run-events.js";
import type { GitRepository } from "../git/git-repository.js";
import { Redactor } from "../secrets/redactor.js";
import { commitRecord, pushPendingRecords, type CommitRecordResult } from "./commit-record.js";
import type { PushOutcome } from "./push-records.js";
import { maskEventText } from "../secrets/mask-run-text.js";
import { recordContext, RunRecorder, type RecordContext } from "./run-recorder.js";
import { isAlive, me, recordsGitDir, stateDir, type Owner } from "./state-dir.js";

interface JournalHeader {
  type: "journal";
  v: 1;
  runId: string;
  owner: Owner;
  /** Real path of the git dir: a state dir shared by several repositories must not mix their runs. */
  repo: string;
  context: RecordContext;
}

function repoKey(repoDir: string, git: GitRepository | undefined): string {
  return fs.realpathSync(recordsGitDir(repoDir, git));
}

function journalDir(repoDir: string, env: NodeJS.ProcessEnv, git: GitRepository | undefined): string {
  const dir = path.join(stateDir(repoDir, env, git), "journal");
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export class RunJournal {
  private fd: number | null = null;
  private file: string | null = null;
  private readonly context: RecordContext;
  private readonly dir: string;
  private readonly repo: string;

  /** Pass to the engine's `listeners`, next to the recorder's. */
  readonly listener: RunEventListener = (event) => this.append(event);

  constructor(
    repoDir: string,
    plan: Plan,
    private readonly redactor: Redactor,
    env: NodeJS.ProcessEnv = process.env,
    /** The Git adapter on the repository, when the caller located it (see recordsGitDir). */
    git?: GitRepository,
  ) {
    this.context = recordContext(plan);
    this.dir = journalDir(repoDir, env, git);
    this.repo = repoKey(repoDir, git);
  }

  /** The journal file, once `run.started` has named the run. */
  get path(): string | null {
    return this.file;
  }

  private append(raw: RunEvent): void {
    if (this.fd === null) {
      if (raw.type !== "run.started") return;
      this.file = path.join(this.dir, `${raw.runId}.jsonl`);
      this.fd = fs.openSync(this.file, "a");
      const header: JournalHeader = {
        type: "journal",
        v: 1,
        runId: raw.runId,
        owner: me(),
        repo: this.repo,
        context: this.context,
      };
      this.write(header);
    }
    this.write(maskEventText(raw, this.redactor));
  }

  private write(value: unknown): void {
    if (this.fd !== null) fs.writeSync(this.fd, `${JSON.stringify(value)}\n`);
  }

  /** After the record is committed: the run needs no recovery any more. */
  complete(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    if (this.file) fs.rmSync(this.file, { force: true });
  }
}

export interface RecoveredRun {
  runId: string;
  result: RunResult;
  record: CommitRecordResult;
}

export interface RecoverOptions {
  settings: Pick<Settings, "records">;
  /** `false` keeps recovered records local; pushing also needs settings.records.push. */
  push?: boolean;
  redactor?: Redactor;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  git?: GitRepository;
  /** Where warnings about unrecordable journals go; default stderr. */
  warn?: (line: string) => void;
}

export interface UnrecordedJournal {
  file: string;
  /** Where it was moved; null when it stays for the next start (an environment failure). */
  movedTo: string | null;
  error: string;
  code?: string;
}

export interface RecoverResult {
  recovered: RecoveredRun[];
  /** Journals that could not be recorded; none of them stops the run that follows. */
  unrecorded: UnrecordedJournal[];
  /** Journals skipped because their process still runs. */
  running: string[];
  /** Push of records a refused or failed push left pending; null when none were. */
  pending: (PushOutcome & { runs: string[] }) | null;
}

/**
 * Call once at the start of `opsc` (CLI and server) before running anything:
 * records runs cut off by a crash, then pushes pending records.
 */
export async function recoverInterrupted(repoDir: string, options: RecoverOptions): Promise<RecoverResult> {
  const env = options.env ?? process.env;
  const dir = journalDir(repoDir, env, options.git);
  const recovered: RecoveredRun[] = [];
  const running: string[] = [];
  const redactor = options.redactor ?? new Redactor();
  const repo = repoKey(repoDir, options.git);
  const warn = options.warn ?? ((line: string) => process.stderr.write(`opsc: warning: ${line}\n`));
  const unrecorded: UnrecordedJournal[] = [];
  for (const name of fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".jsonl"))
    .sort()) {
    const file = path.join(dir, name);
    try {
      const run = await recoverOne(repoDir, file, repo, redactor, options, env);
      if (run === "running") running.push(name.replace(/\.jsonl$/, ""));
      else if (run) recovered.push(run);
    } catch (e) {
      // A journal that cannot be recorded must not stop every later run: keep it, say so, go on.
      const left = setAside(dir, file, e, warn);
      unrecorded.push(left);
    }
  }
  const wantPush = options.push !== false && options.settings.records.push;
  const pending = wantPush
    ? await pushPendingRecords(repoDir, options.settings, {
        env,
        ...(options.git ? { git: options.git } : {}),
      })
    : null;
  return { recovered, running, unrecorded, pending };
}

/** Records one journal; "running" when its process still runs, null when there is nothing to record. */
async function recoverOne(
  repoDir: string,
  file: string,
  repo: string,
  redactor: Redactor,
  options: RecoverOptions,
  env: NodeJS.ProcessEnv,
): Promise<RecoveredRun | "running" | null> {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  let header: JournalHeader;
  try {
    header = JSON.parse(lines[0] ?? "") as JournalHeader;
  } catch {
    return null; // killed before the header reached the disk: nothing to record
  }
  if (header.type !== "journal" || header.repo !== repo) return null;
  // A run of this very process (a server running several jobs) is not interrupted.
  if (isAlive(header.owner)) return "running";
  const recorder = new RunRecorder(header.context, header.runId, redactor);
  let lastAt: string | undefined;
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    let event: RunEvent;
    try {
      event = JSON.parse(line) as RunEvent;
    } catch {
      break; // the line being written when the process died
    }
    recorder.apply(event);
    lastAt = event.at;
  }
  const interruptedAt = lastAt ? new Date(lastAt) : (options.now ?? (() => new Date()))();
  const summary = recorder.summary(interruptedAt);
  const record = await commitRecord({
    repoDir,
    settings: options.settings,
    summary,
    logs: recorder.targetLogs(),
    push: options.push,
    redactor,
    env,
    now: options.now,
    ...(options.git ? { git: options.git } : {}),
  });
  fs.rmSync(file, { force: true });
  return { runId: summary.id, result: summary.result, record };
}

/**
 * An environment failure (a locked or full disk) may pass: the journal stays
 * where it is and the next start tries again. Anything else is in the journal
 * itself and would fail every time: it moves to `journal/unrecorded/`.
 */
function setAside(dir: string, file: string, e: unknown, warn: (line: string) => void): UnrecordedJournal {
  const error = errorText(e);
  const code = isOpscError(e) ? e.code : undefined;
  if (isOpscError(e) && e.kind === "environment") {
    warn(
      `the interrupted run in ${file} could not be recorded (${error}); it stays there and is tried again at the next start`,
    );
    return { file, movedTo: null, error, ...(code ? { code } : {}) };
  }
  const aside = path.join(dir, "unrecorded");
  fs.mkdirSync(aside, { recursive: true });
  const movedTo = path.join(aside, path.basename(file));
  fs.renameSync(file, movedTo);
  warn(
    `the interrupted run in ${file} cannot be recorded (${code ? `${code}: ` : ""}${error}); ` +
      `it was moved to ${movedTo} and later runs go on. Read it to see what that run did, then delete it ` +
      `(or fix it and move it back into ${dir} to record it at the next start)`,
  );
  return { file, movedTo, error, ...(code ? { code } : {}) };
}
