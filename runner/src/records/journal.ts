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
import type { Plan } from "../core/plan-model.js";
import type { Settings } from "../core/repo-model.js";
import type { RunEvent, RunEventListener, RunResult } from "../core/run-events.js";
import type { GitRepository } from "../git/git-repository.js";
import { Redactor } from "../secrets/redactor.js";
import { commitRecord, pushPendingRecords, type CommitRecordResult } from "./commit-record.js";
import type { PushOutcome } from "./push-records.js";
import { findGitDir } from "../git/git-dir.js";
import { recordContext, RunRecorder, type RecordContext } from "./run-recorder.js";
import { isAlive, me, stateDir, type Owner } from "./state-dir.js";

interface JournalHeader {
  type: "journal";
  v: 1;
  runId: string;
  owner: Owner;
  /** Real path of the git dir: a state dir shared by several repositories must not mix their runs. */
  repo: string;
  context: RecordContext;
}

function repoKey(repoDir: string): string {
  return fs.realpathSync(findGitDir(repoDir));
}

function journalDir(repoDir: string, env: NodeJS.ProcessEnv): string {
  const dir = path.join(stateDir(repoDir, env), "journal");
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
  ) {
    this.context = recordContext(plan);
    this.dir = journalDir(repoDir, env);
    this.repo = repoKey(repoDir);
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
    this.write(this.redactor.redactDeep(raw));
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
}

export interface RecoverResult {
  recovered: RecoveredRun[];
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
  const dir = journalDir(repoDir, env);
  const recovered: RecoveredRun[] = [];
  const running: string[] = [];
  const redactor = options.redactor ?? new Redactor();
  const repo = repoKey(repoDir);
  for (const name of fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".jsonl"))
    .sort()) {
    const file = path.join(dir, name);
    const lines = fs.readFileSync(file, "utf8").split("\n");
    let header: JournalHeader;
    try {
      header = JSON.parse(lines[0] ?? "") as JournalHeader;
    } catch {
      continue; // killed before the header reached the disk: nothing to record
    }
    if (header.type !== "journal" || header.repo !== repo) continue;
    // A run of this very process (a server running several jobs) is not interrupted.
    if (isAlive(header.owner)) {
      running.push(header.runId);
      continue;
    }
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
    recovered.push({ runId: summary.id, result: summary.result, record });
  }
  const wantPush = options.push !== false && options.settings.records.push;
  const pending = wantPush
    ? await pushPendingRecords(repoDir, options.settings, {
        env,
        ...(options.git ? { git: options.git } : {}),
      })
    : null;
  return { recovered, running, pending };
}
