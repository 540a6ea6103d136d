/**
 * Approvals bound to the plan (docs/approvals.md): `opsc approve` signs the
 * plan hash and publishes the signature; every door calls requireApprovals
 * before a job with `approval:` runs; `opsc plan` shows the count. The signers
 * file is always the one at the plan's commit, so who may approve is itself
 * reviewed like any change.
 */
import { readFile } from "node:fs/promises";
import { parseAllowedSigners } from "../core/allowed-signers.js";
import { APPROVAL_NAMESPACE, countApprovals, type ApprovalCount } from "../core/count-approvals.js";
import { errorText } from "../core/error-text.js";
import { userError } from "../core/errors.js";
import { computePlanHash, planHashText } from "../core/plan-hash.js";
import type { Plan } from "../core/plan-model.js";
import type { RunSummary } from "../core/run-summary.js";
import { fingerprint, signMessage, SshSigError, verifySignature } from "../core/sshsig.js";
import {
  approvalRef,
  approvalsPrefix,
  publishApproval,
  readApprovals,
  type PublishStatus,
} from "../git/approval-refs.js";
import { findGitDir } from "../git/git-dir.js";
import type { RepoFiles } from "../repo/repo-files.js";
import { readSigningKey } from "../secrets/signing-key.js";

export interface ApprovalSource {
  repoDir: string;
  /** The git dir when it is not `<repoDir>/.git`. */
  gitdir?: string;
  env?: NodeJS.ProcessEnv;
  now?: Date;
}

/** A plan that needs approval must name its commit: the hash binds the signature to it. */
function requireCommit(plan: Plan, doing: string): string {
  if (plan.commit) return plan.commit;
  throw userError(
    "approval.no-commit",
    `job "${plan.job}" needs approval, so it can only ${doing} a commit, not a working tree with uncommitted changes`,
    {
      hint: "commit the changes (and push them), then try again; --allow-dirty does not apply to approved jobs",
    },
  );
}

/** Counts the valid approvals of `plan`, reading the signers file at the plan's commit. */
export async function countPlanApprovals(
  plan: Plan,
  files: RepoFiles,
  source: ApprovalSource,
): Promise<ApprovalCount & { from: string }> {
  const rule = plan.approval!;
  const planHash = computePlanHash(plan);
  const bytes = files.files.get(rule.signers);
  if (bytes === undefined) {
    throw userError(
      "approval.signers-missing",
      `the signers file ${rule.signers} does not exist at this commit`,
      {
        hint: "run `opsc validate`",
      },
    );
  }
  const { signers } = parseAllowedSigners(Buffer.from(bytes).toString("utf8"));
  const { found, from, unread } = await readApprovals({
    gitdir: source.gitdir ?? findGitDir(source.repoDir),
    prefix: approvalsPrefix(plan.job, planHash),
    listedKeys: signers.map((s) => s.publicKey),
    ...(source.env ? { env: source.env } : {}),
  });
  const count = countApprovals({
    planHash,
    required: rule.required,
    signers,
    found,
    now: source.now ?? new Date(),
  });
  if (unread > 0) {
    count.refused.push({
      from: `${approvalsPrefix(plan.job, planHash)}/*`,
      reason: `${unread} more ref(s) not named after a key in ${rule.signers} were not read`,
    });
  }
  return { ...count, from };
}

/**
 * Before a run: the job's approvals, as the record keeps them, or a user error
 * naming how many it has and needs and the plan hash. Jobs without `approval:` pass.
 */
export async function requireApprovals(
  plan: Plan,
  files: RepoFiles,
  source: ApprovalSource,
): Promise<RunSummary["approval"] | undefined> {
  // Check mode changes nothing and runs only the reviewed `check` scripts; asking for
  // signatures of every commit's check plan would leave protected jobs without drift detection.
  if (!plan.approval || plan.checkMode) return undefined;
  requireCommit(plan, "run from");
  const count = await countPlanApprovals(plan, files, source);
  if (count.accepted.length < count.required) {
    const who = count.accepted.map((a) => a.principal).join(", ");
    // A few reasons are enough to act on; a remote full of junk refs must not flood the message.
    const shown = count.refused.slice(0, 10);
    const refused =
      shown.map((r) => `\n  not counted: ${r.fingerprint ?? r.from}: ${r.reason}`).join("") +
      (count.refused.length > shown.length ? `\n  ... and ${count.refused.length - shown.length} more` : "");
    throw userError(
      "approval.missing",
      `job "${plan.job}" needs ${count.required} approval(s) of plan ${count.planHash}; it has ${count.accepted.length}` +
        `${who ? ` (${who})` : ""}${refused}`,
      {
        hint:
          `signers listed in ${plan.approval.signers} approve this exact plan with ` +
          `\`opsc approve ${plan.job} --key KEY\` at commit ${plan.commit!.slice(0, 12)} with the same inputs and targets ` +
          "(`opsc plan` shows the hash); a different commit, input or target list is a different plan",
      },
    );
  }
  return { required: count.required, signers: plan.approval.signers, signatures: count.accepted };
}

/** For `opsc plan`: how many have signed, or why that cannot be told. */
export type ApprovalStatus = { count: ApprovalCount & { from: string } } | { unknown: string };

export async function approvalStatus(
  plan: Plan,
  files: RepoFiles,
  source: ApprovalSource,
): Promise<ApprovalStatus> {
  if (!plan.commit)
    return { unknown: "the plan is of a working tree with uncommitted changes; approvals bind to a commit" };
  try {
    return { count: await countPlanApprovals(plan, files, source) };
  } catch (e) {
    return { unknown: errorText(e) };
  }
}

export interface ApproveResult {
  job: string;
  planHash: string;
  commit: string;
  principal?: string;
  fingerprint: string;
  ref: string;
  status: PublishStatus;
  remote?: string;
}

/**
 * Signs the plan hash with `key` (or takes a signature made with `ssh-keygen
 * -Y sign`) and publishes it. A key the signers file does not list is refused
 * here rather than pushed to count for nothing.
 */
export async function approvePlan(
  plan: Plan,
  files: RepoFiles,
  source: ApprovalSource,
  how: { key: string } | { signatureFile: string },
): Promise<ApproveResult> {
  if (!plan.approval) {
    throw userError(
      "approval.not-required",
      `job "${plan.job}" has no \`approval:\`, so it needs no signature`,
      {
        hint: "add `approval: { required: N, signers: approvers }` to the job to require signatures",
      },
    );
  }
  const commit = requireCommit(plan, "be approved at");
  const planHash = computePlanHash(plan);
  let signature: string;
  let publicKey: Buffer;
  if ("key" in how) {
    const key = await readSigningKey(how.key, source.env);
    publicKey = key.publicKey;
    try {
      signature = signMessage(key.privateKey, key.publicKey, planHash, APPROVAL_NAMESPACE);
    } catch (e) {
      throw userError("approve.cannot-sign", `cannot sign with ${how.key}: ${errorText(e)}`);
    }
  } else {
    try {
      signature = await readFile(how.signatureFile, "utf8");
    } catch (e) {
      throw userError("approve.signature-unreadable", `cannot read ${how.signatureFile}: ${errorText(e)}`);
    }
    try {
      publicKey = verifySignature(signature, planHash, APPROVAL_NAMESPACE).publicKey;
    } catch (e) {
      throw userError(
        "approve.bad-signature",
        `${how.signatureFile} is not a signature of plan ${planHash}: ${e instanceof SshSigError ? e.message : errorText(e)}`,
        {
          hint: `sign exactly the hash, in namespace ${APPROVAL_NAMESPACE}: printf %s ${planHash} | ssh-keygen -Y sign -f KEY -n ${APPROVAL_NAMESPACE} > approval.sig`,
        },
      );
    }
  }
  const fp = fingerprint(publicKey);
  // The same check a run makes, with only this signature: tells the signer now, not at run time.
  const bytes = files.files.get(plan.approval.signers);
  const { signers } = parseAllowedSigners(bytes ? Buffer.from(bytes).toString("utf8") : "");
  const check = countApprovals({
    planHash,
    required: 1,
    signers,
    found: [{ from: "this signature", text: signature }],
    now: source.now ?? new Date(),
  });
  const accepted = check.accepted[0];
  if (!accepted) {
    throw userError(
      "approve.not-a-signer",
      `the key ${fp} cannot approve job "${plan.job}": ${check.refused[0]?.reason ?? "refused"}`,
      {
        hint: `add its public key to ${plan.approval.signers} (reviewed in a pull request) or sign with a listed key`,
      },
    );
  }
  const ref = approvalRef(plan.job, planHash, publicKey);
  const published = await publishApproval({
    gitdir: source.gitdir ?? findGitDir(source.repoDir),
    ref,
    signature,
    planText: planHashText(plan),
    message:
      `approve ${plan.job} plan ${planHash}\n\n` +
      `Job: ${plan.job}\nCommit: ${commit}\nPlan-Hash: ${planHash}\nSigner: ${accepted.principal}\nKey: ${fp}\n`,
    ...(source.env ? { env: source.env } : {}),
  });
  return {
    job: plan.job,
    planHash,
    commit,
    principal: accepted.principal,
    fingerprint: fp,
    ref,
    status: published.status,
    ...(published.remote ? { remote: published.remote } : {}),
  };
}
