/**
 * What the dashboard pages show, as plain functions of the runner's ports:
 * the model at the default branch's head, the records branch in the mirror,
 * the scheduler and the runs index. No HTTP here.
 */
import { CronExpressionParser } from "cron-parser";
import type { RunEvent } from "../core/run-events.js";
import type { RunSummary } from "../core/run-summary.js";
import type { JobDef, RepoModel } from "../core/repo-model.js";
import { inputProblems } from "../core/input-schema.js";
import { buildPlan } from "../plan/build-plan.js";
import { checkRepoTargets } from "./check-targets.js";
import { selectTargets } from "../plan/select-targets.js";
import { DEFAULT_RECORDS_BRANCH } from "../repo/build-model.js";
import { eventsFromRecord } from "../records/record-events.js";
import { targetLogPath } from "../records/record-paths.js";
import {
  openRecords,
  readAuditFiles,
  readRun,
  readRunFile,
  verifyRecords,
  type RecordsSource,
} from "../records/records-branch.js";
import type { RunnerService } from "../server/runner-service.js";
import { RunsIndex } from "../records/runs-index.js";
import { maskEventText } from "../secrets/mask-run-text.js";
import type { Redactor } from "../secrets/redactor.js";

/** Next fire times shown per schedule. */
const NEXT_TIMES = 3;

export async function recordsBranch(service: RunnerService): Promise<string> {
  try {
    return (await service.headModel()).model.settings.records.branch;
  } catch {
    return DEFAULT_RECORDS_BRANCH;
  }
}

async function records(service: RunnerService): Promise<RecordsSource | null> {
  return openRecords(service.repoDir, await recordsBranch(service));
}

/** `https://github.com/o/r/commit/SHA` for a GitHub or GitLab https remote; undefined otherwise. */
export function forgeCommitUrl(repoUrl: string | undefined, commit: string | undefined): string | undefined {
  if (!repoUrl || !commit) return undefined;
  const m = /^https:\/\/(github\.com|gitlab\.com)\/([^/]+\/[^/]+?)(?:\.git)?\/?$/.exec(repoUrl);
  if (!m) return undefined;
  return m[1] === "github.com"
    ? `https://github.com/${m[2]}/commit/${commit}`
    : `https://gitlab.com/${m[2]}/-/commit/${commit}`;
}

export async function recordedRun(
  service: RunnerService,
  runId: string,
  repoUrl?: string,
): Promise<{ summary: RunSummary; logs: Record<string, string>; commitUrl?: string } | null> {
  const src = await records(service);
  const run = src ? await safeRead(src, runId) : null;
  if (!src || !run) return null;
  const logs: Record<string, string> = {};
  for (const t of run.summary.targets)
    logs[t.name] = (await readRunFile(src, runId, targetLogPath(t.name))) ?? "";
  const url = forgeCommitUrl(repoUrl, run.summary.sourceCommit);
  return { summary: run.summary, logs, ...(url ? { commitUrl: url } : {}) };
}

async function safeRead(src: RecordsSource, runId: string): Promise<{ summary: RunSummary } | null> {
  try {
    return await readRun(src, runId);
  } catch {
    // Not a run id: nothing recorded under it.
    return null;
  }
}

export async function replayFromRecord(
  service: RunnerService,
  runId: string,
): Promise<RunEvent[] | undefined> {
  const found = await recordedRun(service, runId);
  return found ? eventsFromRecord(found.summary, new Map(Object.entries(found.logs))) : undefined;
}

/** The JSON Schema of a job's inputs, as a form renders it: an input without a default is required. */
export function inputsSchema(job: JobDef): Record<string, unknown> {
  const required = Object.entries(job.inputs)
    .filter(([, s]) => s.default === undefined)
    .map(([name]) => name);
  return { type: "object", properties: job.inputs, required, additionalProperties: false };
}

export function nextTimes(cron: string, timezone: string, from: Date, count = NEXT_TIMES): string[] {
  try {
    const expr = CronExpressionParser.parse(cron, { currentDate: from, tz: timezone });
    return Array.from({ length: count }, () => expr.next().toDate().toISOString());
  } catch {
    return [];
  }
}

function triggers(job: JobDef): Record<string, unknown> {
  return {
    manual: job.on.manual,
    ...(job.on.push ? { push: job.on.push } : {}),
    schedule: job.on.schedule.map((s) => ({ ...s, next: nextTimes(s.cron, s.timezone, new Date()) })),
    ...(job.on.webhook
      ? { webhook: { types: job.on.webhook.types, signed: Boolean(job.on.webhook.secret) } }
      : {}),
  };
}

export async function jobsView(service: RunnerService): Promise<{
  commit: string;
  jobs: Array<{ id: string; description: string; triggers: Record<string, unknown> }>;
}> {
  const { commit, model } = await service.headModel();
  const jobs = [...model.jobs.values()]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((j) => ({ id: j.id, description: j.description ?? "", triggers: triggers(j) }));
  return { commit, jobs };
}

export async function jobView(
  service: RunnerService,
  id: string,
  repoUrl?: string,
): Promise<Record<string, unknown> | undefined> {
  const { commit, model } = await service.headModel();
  const job = model.jobs.get(id);
  if (!job) return undefined;
  return {
    id: job.id,
    description: job.description ?? "",
    commit,
    ...(forgeCommitUrl(repoUrl, commit) ? { commitUrl: forgeCommitUrl(repoUrl, commit) } : {}),
    triggers: triggers(job),
    concurrency: job.concurrency ?? null,
    inputsSchema: inputsSchema(job),
    plan: planOf(model, job, commit),
  };
}

/** The plan with default inputs; when an input has no default, the phases still show, without targets resolved. */
function planOf(model: RepoModel, job: JobDef, commit: string): Record<string, unknown> {
  const { plan, diagnostics } = buildPlan(model, {
    job: job.id,
    inputs: {},
    trigger: { kind: "manual", actor: "dashboard" },
    commit,
  });
  if (!plan) {
    return {
      phases: job.phases.map((p) => ({ name: p.name, targets: [], steps: [] })),
      note: diagnostics.map((d) => d.message).join("; "),
    };
  }
  return {
    phases: plan.phases.map((p) => ({
      name: p.name,
      targets: p.targets,
      parallel: p.parallel,
      steps: p.steps.map((s) => ({ id: s.id, name: s.name, ...(s.uses ? { uses: s.uses } : {}) })),
    })),
  };
}

/**
 * The targets a caller may health-check: those selected by some phase of a
 * job they may run (the job's own selector, as the planner reads it).
 */
export function checkableTargets(model: RepoModel, mayRun: (jobId: string) => boolean): Set<string> {
  const out = new Set<string>();
  for (const job of model.jobs.values()) {
    if (!mayRun(job.id)) continue;
    for (const phase of job.phases)
      for (const t of selectTargets(model.targets.values(), phase.targets)) out.add(t.id);
  }
  return out;
}

export async function targetsView(
  service: RunnerService,
  index: RunsIndex,
  mayRun: (jobId: string) => boolean = () => true,
): Promise<Record<string, unknown>> {
  const { model } = await service.headModel();
  const checkable = checkableTargets(model, mayRun);
  // The index holds rows per run; a target's last result is its last run's outcome on it (read from run.json).
  const { runs } = await index.query({ limit: 100 });
  const src = await records(service);
  const last = new Map<string, { run: string; outcome: string; at: string }>();
  if (src) {
    for (const row of runs) {
      if (last.size >= model.targets.size) break;
      const run = await safeRead(src, row.id);
      for (const t of run?.summary.targets ?? [])
        if (!last.has(t.name)) last.set(t.name, { run: row.id, outcome: t.outcome, at: row.finishedAt });
    }
  }
  const targets = [...model.targets.values()]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((t) => ({
      id: t.id,
      transport: t.transport,
      ...(t.host ? { host: t.host } : {}),
      labels: t.labels,
      ...(last.get(t.id) ? { last: last.get(t.id) } : {}),
      mayCheck: checkable.has(t.id),
    }));
  return { targets };
}

export interface SchedulesView {
  /** `kind`: what a tick does, run the job (`on.schedule`) or check it for drift (`drift.schedule`). */
  schedules: Array<{
    job: string;
    kind: "run" | "drift";
    cron: string;
    timezone: string;
    catchUp: unknown;
    next: string[];
  }>;
  missed: Array<{ job: string; at: string | undefined; reason: string }>;
}

export async function schedulesView(service: RunnerService): Promise<SchedulesView> {
  const { model } = await service.headModel();
  const now = new Date();
  const schedules = [...model.jobs.values()].flatMap((j) =>
    [
      ...j.on.schedule.map((s) => ({ kind: "run" as const, s })),
      ...(j.drift?.schedule ? [{ kind: "drift" as const, s: j.drift.schedule }] : []),
    ].map(({ kind, s }) => ({
      job: j.id,
      kind,
      cron: s.cron,
      timezone: s.timezone,
      catchUp: s.catchUp,
      next: nextTimes(s.cron, s.timezone, now),
    })),
  );
  const missed = service
    .runs(500)
    .filter((i) => i.id.startsWith("missed-"))
    .map((i) => ({ job: i.job, at: i.finishedAt, reason: i.reason ?? "" }));
  return { schedules, missed };
}

export async function auditView(
  service: RunnerService,
  limit: number,
): Promise<{ verification: unknown; lines: unknown[] }> {
  const src = await records(service);
  if (!src) return { verification: null, lines: [] };
  const verification = await verifyRecords(src);
  const files = await readAuditFiles(src);
  const lines: unknown[] = [];
  for (let f = files.length - 1; f >= 0 && lines.length < limit; f--) {
    const text = files[f]!.text.split("\n").filter((l) => l.trim() !== "");
    for (let i = text.length - 1; i >= 0 && lines.length < limit; i--) {
      try {
        lines.push(JSON.parse(text[i]!));
      } catch {
        lines.push({ unreadable: text[i] });
      }
    }
  }
  return { verification, lines };
}

/**
 * The launch form's check, per input, by the same rules the planner applies
 * (core/input-schema.ts). It runs on the server: the dashboard's strict CSP
 * forbids the code generation a browser-side JSON Schema validator needs.
 */
export async function checkInputs(
  service: RunnerService,
  jobId: string,
  inputs: Record<string, unknown>,
): Promise<{ problems: Record<string, string[]> } | undefined> {
  const { model } = await service.headModel();
  const job = model.jobs.get(jobId);
  if (!job) return undefined;
  const problems: Record<string, string[]> = {};
  for (const name of Object.keys(inputs))
    if (!(name in job.inputs)) problems[name] = [`this job has no input "${name}"`];
  for (const [name, schema] of Object.entries(job.inputs)) {
    const value = inputs[name] ?? schema.default;
    if (value === undefined) problems[name] = ["required"];
    else {
      const found = inputProblems(schema, value);
      if (found.length > 0) problems[name] = found;
    }
  }
  return { problems };
}

export interface TargetHealth {
  target: string;
  ok: boolean;
  /** Connect plus `true`, in ms; absent when the connection failed. */
  latencyMs?: number;
  connectMs?: number;
  execMs?: number;
  /** Stable error code and its message when not ok (credential values masked). */
  code?: string;
  message?: string;
}

/**
 * The Targets page's health check: `opsc targets check` (app/check-targets.ts)
 * on the given targets at the default branch's head, in the server's mirror.
 */
export async function checkTargetsHealth(
  service: RunnerService,
  targets: string[],
  redactor: Redactor,
  env?: NodeJS.ProcessEnv,
): Promise<TargetHealth[]> {
  const { commit } = await service.headModel();
  const results = await checkRepoTargets({
    repoDir: service.repoDir,
    commit,
    selector: targets,
    parallel: 10,
    timeoutMs: 10_000,
    ...(env ? { env } : {}),
  });
  // Masked twice: by the check's own redactor (credential values), then by the server's (its tokens).
  return results.map((r) => ({
    target: r.target,
    ok: r.ok,
    ...(r.connectMs !== undefined ? { connectMs: r.connectMs } : {}),
    ...(r.execMs !== undefined ? { execMs: r.execMs } : {}),
    ...(r.ok ? { latencyMs: (r.connectMs ?? 0) + (r.execMs ?? 0) } : {}),
    ...(r.code ? { code: r.code } : {}),
    ...(r.message ? { message: redactor.redact(r.message) } : {}),
  }));
}

/** The runs page's index of the records branch, kept in the server's state directory. */
export function openRunsIndex(repoDir: string, file: string, branch: string): RunsIndex {
  return new RunsIndex(repoDir, file, branch);
}

/** A run event as a follower may see it: output text masked (the engine masked it already; this is the door's own guard). */
export function followerEvent(event: RunEvent, redactor: Redactor): RunEvent {
  return maskEventText(event, redactor);
}
