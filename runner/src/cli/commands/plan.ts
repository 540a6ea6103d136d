/** `opsc plan`: what a job would run, without connecting to a target or decrypting anything. */
import { Command, Option } from "commander";
import { usageError } from "../../core/errors.js";
import { renderPlan, type ApprovalView, type PlanFormat } from "../../plan/render-plan.js";
import { shardMatrix } from "../../plan/shard-matrix.js";
import { addJobOptions } from "../input-flags.js";
import { planSourceAndRequest, type PlanFlags } from "../plan-flags.js";

interface PlanCommandFlags extends PlanFlags {
  format: PlanFormat;
  matrix?: string;
}

export function register(program: Command): void {
  addJobOptions(program.command("plan"))
    .description("Show exactly what a job would run: targets in batches, steps resolved, inputs validated")
    .option("--commit <rev>", "read the job definitions at this commit instead of the working tree")
    .option("--shard <K/N>", "plan only shard K of N (deterministic slice of the targets)")
    .option("--check", "plan a check-mode run (only `check` scripts run)")
    .option(
      "--matrix <n>",
      'print a GitHub Actions matrix of N shards ({"shard":["1/N",...]}) instead of the plan',
    )
    .addOption(
      new Option("--format <format>", "output format").choices(["text", "json", "markdown"]).default("text"),
    )
    .addHelpText(
      "after",
      `
Planning never connects to a target and never decrypts a credential: it is safe
on pull requests from anyone.

Examples:
  $ opsc plan patch-web
  $ opsc plan patch-web --input package=openssl --target 'web-*'
  $ opsc plan patch-web --format markdown >> "$GITHUB_STEP_SUMMARY"
  $ opsc plan patch-web --commit origin/main --format json
  $ opsc plan deploy --format json | jq -r .planHash   # what \`opsc approve\` signs (docs/approvals.md)
  $ opsc plan site --tags nginx --skip-tags slow   # which steps run, and why
  $ opsc plan site --format json | jq '.targets["web-1"].varsFrom'   # merged vars and their files
  $ opsc plan patch-web --matrix 3        # {"shard":["1/3","2/3","3/3"]}, for strategy.matrix
                                          # then: opsc run patch-web --shard \${{ matrix.shard }}`,
    )
    .action(async (job: string, flags: PlanCommandFlags) => {
      const matrix = flags.matrix === undefined ? undefined : Number(flags.matrix);
      if (matrix !== undefined && (!Number.isInteger(matrix) || matrix < 1)) {
        throw usageError("cli.bad-matrix", `--matrix ${flags.matrix}: expected a whole number above 0`, {
          hint: "for example --matrix 3",
        });
      }
      if (matrix !== undefined && flags.shard) {
        throw usageError("cli.bad-matrix", "--matrix and --shard do not go together", {
          hint: "--matrix plans the shards; each shard then runs with --shard K/N",
        });
      }
      const { source, request } = planSourceAndRequest(job, flags);
      const repoDir = source.repoDir;
      // Loaded on use, so `opsc --help` and `--version` stay quick.
      const { loadPlan } = await import("../../app/load-plan.js");
      const { plan, files } = await loadPlan(source, request);
      if (matrix !== undefined) {
        // One line of JSON: `echo "matrix=$(opsc plan JOB --matrix 3)" >> "$GITHUB_OUTPUT"`.
        process.stdout.write(`${JSON.stringify(shardMatrix(matrix, Object.keys(plan.targets).length))}\n`);
        return;
      }
      let approval: ApprovalView | undefined;
      if (plan.approval) {
        const { approvalStatus } = await import("../../app/approvals.js");
        const status = await approvalStatus(plan, files, { repoDir });
        approval = "unknown" in status ? status : { signers: status.count.accepted.map((a) => a.principal) };
      }
      process.stdout.write(renderPlan(plan, flags.format, approval));
    });
}
