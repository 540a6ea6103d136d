/**
 * `command: plan`: the plan in the job summary. With `shard: N` it also sets
 * the `matrix` output for a later job's `strategy.matrix`, the same matrix
 * `opsc plan JOB --matrix N` prints.
 */
import * as core from "@actions/core";
import { usageError } from "../../runner/src/core/errors.js";
import { renderPlan } from "../../runner/src/plan/render-plan.js";
import { shardMatrix } from "../../runner/src/plan/shard-matrix.js";
import { loadPlan } from "../../runner/src/app/load-plan.js";
import { requireJob, type ActionInputs } from "./action-inputs.js";
import { triggerOf, type GithubEvent } from "./github-event.js";

export async function planStep(inputs: ActionInputs, event: GithubEvent): Promise<void> {
  const job = requireJob(inputs);
  const shards = inputs.shard === undefined ? undefined : Number(inputs.shard);
  if (shards !== undefined && (!Number.isInteger(shards) || shards < 1)) {
    throw usageError("action.bad-shard", `shard: "${inputs.shard}" with command plan must be a shard count`, {
      hint: "plan takes the number of shards (`shard: 3`) and sets the `matrix` output; run takes `shard: 2/3`",
    });
  }
  const { plan } = await loadPlan(
    { repoDir: inputs.repoDir },
    { job, inputs: inputs.inputs, fromText: true, trigger: triggerOf(event) },
  );
  await core.summary.addRaw(renderPlan(plan, "markdown")).write();
  process.stdout.write(renderPlan(plan, "text"));
  if (shards !== undefined) {
    const matrix = JSON.stringify(shardMatrix(shards, Object.keys(plan.targets).length));
    core.setOutput("matrix", matrix);
    core.info(`matrix: ${matrix}`);
  }
  core.setOutput("result", "success");
}
