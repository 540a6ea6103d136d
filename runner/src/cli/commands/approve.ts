/** `opsc approve JOB`: sign the job's exact plan (its plan hash) and publish the signature. */
import type { Command } from "commander";
import { usageError } from "../../core/errors.js";
import { formatOption } from "../format-option.js";
import { addJobOptions } from "../input-flags.js";
import { planSourceAndRequest, type PlanFlags } from "../plan-flags.js";

interface ApproveFlags extends PlanFlags {
  key?: string;
  signature?: string;
  format: "text" | "json";
}

export function register(program: Command): void {
  addJobOptions(program.command("approve"))
    .description(
      "Sign a job's exact plan (commit, inputs, targets, steps) so a job with `approval:` may run it",
    )
    .option("--key <file>", "your SSH private key (ed25519, rsa or ecdsa), listed in the job's signers file")
    .option(
      "--signature <file>",
      "a signature of the plan hash made with `ssh-keygen -Y sign` (for a key in ssh-agent) instead of --key",
    )
    .option("--commit <rev>", "approve the plan at this commit instead of the working tree's HEAD")
    .option("--check", "approve a check-mode run (it has its own plan hash)")
    .option("--shard <K/N>", "approve shard K of N (each shard has its own plan hash)")
    .addOption(formatOption())
    .addHelpText(
      "after",
      `
The plan is computed exactly as \`opsc plan\` and \`opsc run\` compute it, so give the same
--input, --target, --match, --tags, --check and --shard as the run will have. The signature
(SSH signature format, namespace opsconductor-approval, message: the plan hash) is pushed to
refs/opsconductor/approvals/<job>/<plan hash>/sha256-<key> on origin, or kept in the local
repository when there is no HTTP(S) origin. An encrypted key reads its passphrase from
OPSC_SIGNING_KEY_PASSPHRASE; it is never taken from the command line.

Examples:
  $ opsc plan deploy --input version=1.4.2          # read what you are about to approve
  $ opsc approve deploy --input version=1.4.2 --key ~/.ssh/id_ed25519
  $ opsc approve deploy --commit origin/main --key ~/.ssh/id_ed25519 --format json
  $ HASH=$(opsc plan deploy --format json | jq -r .planHash)
  $ printf %s "$HASH" | ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n opsconductor-approval > approval.sig
  $ opsc approve deploy --signature approval.sig

See docs/approvals.md.`,
    )
    .action(async (job: string, flags: ApproveFlags) => {
      if (Boolean(flags.key) === Boolean(flags.signature)) {
        throw usageError("cli.approve-key", "give either --key or --signature", {
          hint: "for example --key ~/.ssh/id_ed25519",
        });
      }
      const { source, request } = planSourceAndRequest(job, flags);
      const repoDir = source.repoDir;
      // Loaded on use, so `opsc --help` and `--version` stay quick.
      const { loadPlan } = await import("../../app/load-plan.js");
      const { approvePlan } = await import("../../app/approvals.js");
      const { plan, files } = await loadPlan(source, request);
      const result = await approvePlan(
        plan,
        files,
        { repoDir },
        flags.key ? { key: flags.key } : { signatureFile: flags.signature! },
      );
      if (flags.format === "json") {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      const where =
        result.status === "pushed"
          ? `pushed to ${result.remote}`
          : result.status === "exists"
            ? `already on ${result.remote}`
            : `kept in the local repository (no HTTP(S) origin${result.remote ? `: ${result.remote}` : ""}); push it with: git push origin '${result.ref}'`;
      process.stdout.write(
        `Approved job ${result.job} at ${result.commit.slice(0, 12)} as ${result.principal} (${result.fingerprint})\n` +
          `  plan hash ${result.planHash}\n` +
          `  ${result.ref}\n` +
          `  ${where}\n`,
      );
    });
}
