/**
 * Drift detection: runs a job in check mode (recorded like any check run),
 * turns what would change into a report, commits the report to the branch
 * `opsconductor/drift/<job>` (pushed to the records remote) and notifies the
 * job's `notify:` entries that listen to `drift`. A clean check moves an
 * existing drift branch on to a "clean" report (notifying `drift-resolved`
 * when the report before said drift) and creates none. `opsc drift`
 * and `opsc serve`'s `drift.schedule` both call this.
 */
import {
  buildDriftReport,
  driftHeadline,
  renderDriftJson,
  renderDriftMarkdown,
  type DriftReport,
} from "../core/drift-report.js";
import { errorText } from "../core/error-text.js";
import type { RunSummary } from "../core/run-summary.js";
import type { NotificationOutcome } from "../core/run-summary.js";
import { findGitDir } from "../git/git-dir.js";
import { notifyDrift } from "../notify/notifier.js";
import type { CommitRecordResult } from "../records/commit-record.js";
import {
  commitDriftReport,
  driftBranch,
  driftBranchTip,
  driftReportStatus,
  type DriftBranchResult,
} from "../records/drift-branch.js";
import { CredentialStore } from "../secrets/credential-store.js";
import { maskSummaryText } from "../secrets/mask-run-text.js";
import { Redactor } from "../secrets/redactor.js";
import { executeJob, type ExecuteJobRequest } from "./execute-job.js";
import type { LoadedPlan } from "./load-plan.js";

export type DetectDriftRequest = Omit<ExecuteJobRequest, "checkMode" | "redactor" | "notify">;

export interface DetectDriftResult {
  summary: RunSummary;
  /** The check run's record. */
  record: CommitRecordResult;
  /** Absent when the run was cancelled or interrupted. */
  report?: DriftReport;
  /** The drift branch commit; absent when nothing was written (clean with no branch yet, incomplete, cancelled). */
  branch?: DriftBranchResult;
  /** Why the branch was not written or could not be read. */
  branchProblem?: string;
  notifications: NotificationOutcome[];
}

export async function detectDrift(request: DetectDriftRequest): Promise<DetectDriftResult> {
  const env = request.env ?? process.env;
  const redactor = new Redactor();
  let loaded: LoadedPlan | undefined;
  const lines = new Map<string, string[]>();
  const { summary, record } = await executeJob({
    ...request,
    checkMode: true,
    redactor,
    // The check run's own success or failure is not news; drift is, and is sent below.
    notify: false,
    trigger: { ...request.trigger, detail: { ...request.trigger.detail, drift: "true" } },
    onPlan: (l) => {
      loaded = l;
      request.onPlan?.(l);
    },
    listeners: [
      (e) => {
        if (e.type !== "step.output") return;
        const key = `${e.target}\0${e.step}`;
        const list = lines.get(key) ?? [];
        list.push(e.line);
        lines.set(key, list);
      },
      ...(request.listeners ?? []),
    ],
  });
  if (!loaded || summary.result === "cancelled" || summary.result === "interrupted") {
    return { summary, record, notifications: [] };
  }
  const { plan, model, files } = loaded;
  const report = buildDriftReport({
    plan,
    // Inputs and reasons masked as in the run's record: the report is written beside it.
    summary: maskSummaryText(summary, redactor),
    output: (target, step) => lines.get(`${target}\0${step}`) ?? [],
  });
  const result: DetectDriftResult = { summary, record, report, notifications: [] };
  if (report.status === "incomplete") return result;

  const gitdir = request.gitdir ?? findGitDir(request.repoDir);
  // A clean check after one that found drift: the drift is resolved.
  let resolved = false;
  if (report.status === "clean") {
    // Clean and never drifted: nothing to say, no branch to create.
    let tip: string | null;
    try {
      tip = await driftBranchTip({ gitdir, job: report.job, env });
      if (tip) resolved = (await driftReportStatus(gitdir, tip)) === "drift";
    } catch (e) {
      result.branchProblem = `cannot read ${driftBranch(report.job)}: ${redactor.redact(errorText(e))}`;
      return result;
    }
    if (!tip) return result;
  }
  const headline = driftHeadline(report);
  result.branch = await commitDriftReport({
    gitdir,
    job: report.job,
    files: [
      { path: "drift.md", content: redactor.redact(renderDriftMarkdown(report)) },
      { path: "drift.json", content: redactor.redact(renderDriftJson(report)) },
    ],
    message: redactor.redact(
      `${report.status}: ${headline}\n\nOpsc-Drift: ${report.status}\nOpsc-Run: ${report.runId}\n`,
    ),
    push: request.push && model.settings.records.push,
    env,
  });
  const job = model.jobs.get(plan.job);
  const event = report.status === "drift" ? "drift" : resolved ? "drift-resolved" : undefined;
  if (event && job && job.notify.some((n) => n.on.includes(event))) {
    result.notifications = await notifyDrift(
      job.notify,
      event,
      summary,
      {
        branch: result.branch.branch,
        commit: result.branch.commit,
        targets: report.targets.filter((t) => t.status === "drift").map((t) => t.name),
      },
      {
        redactor,
        credentials: CredentialStore.forFiles(files.files, redactor, env),
        settings: model.settings,
        env,
      },
    );
  }
  return result;
}
