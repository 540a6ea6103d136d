/**
 * `command: run`: one job (or one shard of it) at the workflow's commit,
 * through the same executeJob as `opsc run`; the record is pushed with the
 * workflow's token, the run's table goes to the job summary.
 */
import * as core from "@actions/core";
import { locateGit } from "../../runner/src/app/workspace.js";
import { runReport } from "../../runner/src/app/run-report.js";
import { executeJob } from "../../runner/src/app/execute-job.js";
import { ProgressView } from "../../runner/src/app/progress-view.js";
import { parseShard, shardGroup } from "../../runner/src/app/shard-group.js";
import { requireJob, type ActionInputs } from "./action-inputs.js";
import { triggerOf, type GithubEvent } from "./github-event.js";
import { recordUrl } from "./record-url.js";
import { runEnv } from "./run-env.js";

export async function runStep(inputs: ActionInputs, event: GithubEvent): Promise<void> {
  const job = requireJob(inputs);
  const shard = inputs.shard ? shardGroup(parseShard(inputs.shard)) : undefined;
  // Read the job at the workflow's commit when the repository is the Git root, so the record names it.
  const atCommit = event.sha && !locateGit(inputs.repoDir).root ? { commit: event.sha } : {};
  let view: ProgressView | undefined;
  const { summary, record } = await executeJob({
    repoDir: inputs.repoDir,
    ...atCommit,
    ...(event.ref ? { ref: event.ref } : {}),
    job,
    inputs: inputs.inputs,
    inputsFromText: true,
    trigger: triggerOf(event),
    push: inputs.pushRecords,
    ...(shard ? { shard } : {}),
    env: runEnv(inputs),
    onPlan: ({ plan }) => {
      view = new ProgressView(plan, {
        write: (s) => process.stdout.write(s),
        live: false,
        columns: 120,
        showOutput: false,
      });
    },
    listeners: [(e) => view?.listener(e)],
  });
  core.info(
    `record: ${record.branch}:${record.path} (push: ${record.push.status}${record.push.reason ? `: ${record.push.reason}` : ""})`,
  );
  await core.summary.addRaw(runReport(summary, { recordUrl: recordUrl(event, record) })).write();
  core.setOutput("run-id", summary.id);
  core.setOutput("result", summary.result);
  if (summary.result !== "success") core.setFailed(`run ${summary.id}: ${summary.result}`);
}
