/**
 * `command: on-push`: on a push event, every job whose `on.push` matches the
 * paths the push changed, each at the pushed commit, each pushing its record
 * with the workflow's token. The same resolvePush and executeJob as
 * `opsc on-push`.
 */
import * as core from "@actions/core";
import { usageError, userError } from "../../runner/src/core/errors.js";
import { formatDiagnostics } from "../../runner/src/repo/format-diagnostics.js";
import { runReport } from "../../runner/src/app/run-report.js";
import { locateGit } from "../../runner/src/app/workspace.js";
import { executeJob } from "../../runner/src/app/execute-job.js";
import { resolvePush } from "../../runner/src/app/resolve-push.js";
import type { ActionInputs } from "./action-inputs.js";
import { triggerOf, type GithubEvent } from "./github-event.js";
import { workspacePath } from "./markdown.js";
import { recordUrl } from "./record-url.js";
import { runEnv } from "./run-env.js";

export async function onPushStep(inputs: ActionInputs, event: GithubEvent): Promise<void> {
  const before = event.payload.before;
  const after = event.payload.after ?? event.sha;
  const ref = (event.payload.ref as string | undefined) ?? event.ref;
  if (event.name !== "push" || typeof before !== "string" || typeof after !== "string" || !ref) {
    throw usageError("action.on-push-event", `command on-push needs a push event, not "${event.name}"`, {
      hint: "use it in a workflow `on: push`",
    });
  }
  const { gitdir, root } = locateGit(inputs.repoDir);
  if (root) {
    throw userError(
      "action.on-push-subfolder",
      `on-push reads jobs from Git, and ${inputs.relativeDir} is not the repository root`,
      {
        hint: "keep the automation repository at the root of its Git repository for on-push",
      },
    );
  }
  const r = await resolvePush(gitdir, { before, after, ref });
  if (r.errors.length > 0) {
    const located = r.errors.map((d) => ({ ...d, file: workspacePath(inputs.relativeDir, d.file) }));
    process.stdout.write(formatDiagnostics(located, "github"));
    core.setOutput("result", "failure");
    core.setFailed(
      `the repository has ${r.errors.length} error(s) at ${r.commit.slice(0, 12)}; nothing was run`,
    );
    return;
  }
  core.info(
    `${r.changed.length} path(s) changed between ${before.slice(0, 12)} and ${r.commit.slice(0, 12)} on ${ref}`,
  );
  const summary = core.summary.addHeading("OpsConductor: on-push", 2);
  if (r.jobs.length === 0) {
    core.info(`no job to run: ${r.reason ?? "nothing matches"}`);
    await summary.addRaw(`No job to run: ${r.reason ?? "nothing matches"}.\n`).write();
    core.setOutput("result", "success");
    core.setOutput("run-id", "");
    return;
  }
  const ids: string[] = [];
  const failed: string[] = [];
  for (const job of r.jobs) {
    const { summary: run, record } = await executeJob({
      repoDir: inputs.repoDir,
      gitdir,
      commit: r.commit,
      ref,
      job: job.id,
      inputs: {},
      trigger: { ...triggerOf(event), kind: "push", detail: { before, after: r.commit, ref } },
      push: inputs.pushRecords,
      env: runEnv(inputs),
    });
    core.info(
      `${job.id}: ${run.result} (run ${run.id}; record ${record.branch}:${record.path}, push: ${record.push.status}${record.push.reason ? `: ${record.push.reason}` : ""})`,
    );
    ids.push(run.id);
    if (run.result !== "success") failed.push(`${job.id} (${run.result})`);
    summary.addRaw(`\n${runReport(run, { recordUrl: recordUrl(event, record) })}\n`);
  }
  await summary.write();
  core.setOutput("run-id", ids.join(" "));
  core.setOutput("result", failed.length ? "failure" : "success");
  if (failed.length) core.setFailed(`failed: ${failed.join(", ")}`);
}
