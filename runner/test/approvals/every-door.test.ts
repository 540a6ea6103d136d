/**
 * The check lives in the run use case (executeJob), which the CLI, the Action
 * and `opsc serve` all call: a scheduled run is refused the same way, and an
 * approval given by a person counts for it. Here without a remote, so the
 * approvals are refs of the local repository.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { approvePlan, countPlanApprovals } from "../../src/app/approvals.js";
import { executeJob } from "../../src/app/execute-job.js";
import { loadPlan } from "../../src/app/load-plan.js";
import { isOpscError } from "../../src/core/errors.js";
import { git, TestRepo } from "../helpers/automation-repo.js";

const keys = mkdtempSync(join(tmpdir(), "opsc-door-keys-"));
function keygen(name: string): { file: string; pub: string } {
  const file = join(keys, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]);
  return { file, pub: readFileSync(`${file}.pub`, "utf8").split(" ").slice(0, 2).join(" ") };
}
const alice = keygen("alice");
const repo = new TestRepo("opsc-door-");
afterAll(() => repo.remove());

function files(approvers: string): Record<string, string> {
  return {
    "opsconductor.yaml": "name: door\n",
    "targets/local.yaml": "targets:\n  here: { transport: local }\n",
    "jobs/nightly.yaml": [
      "approval: { required: 1, signers: ops.allowed_signers }",
      "targets: { names: [here] }",
      "steps:",
      "  - run: echo ok",
      "",
    ].join("\n"),
    "ops.allowed_signers": approvers,
  };
}

const scheduled = { kind: "schedule", actor: "schedule" } as const;

/** The scheduled run of `nightly`, as the server would start it (the record stays local). */
const runNightly = (extra: { checkMode?: boolean; allowDirty?: boolean } = {}) =>
  executeJob({ repoDir: repo.dir, job: "nightly", inputs: {}, trigger: scheduled, push: false, ...extra });

/** `nightly`'s plan as a person plans it to approve it. */
const planNightly = () =>
  loadPlan({ repoDir: repo.dir }, { job: "nightly", trigger: { kind: "manual", actor: "alice" } });

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isOpscError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("approvals at the use case", () => {
  it("refuses a scheduled run without approvals, runs it once a person approved the same plan", async () => {
    const commit = repo.commit(files(`alice@example.com ${alice.pub}\n`));
    const r = await refusal(runNightly());
    expect(r.code).toBe("approval.missing");
    expect(r.message).toMatch(/needs 1 approval\(s\) of plan [0-9a-f]{64}; it has 0/);

    // A person approves: their plan has another trigger, but the same hash.
    const { plan, files: repoFiles } = await planNightly();
    const approved = await approvePlan(plan, repoFiles, { repoDir: repo.dir }, { key: alice.file });
    expect(approved).toMatchObject({ status: "local", principal: "alice@example.com", commit });
    expect(git(repo.dir, "for-each-ref", "--format=%(refname)", "refs/opsconductor/approvals")).toBe(
      approved.ref,
    );

    const { summary } = await runNightly();
    expect(summary.result).toBe("success");
    expect(summary.planHash).toBe(plan.planHash);
    expect(summary.approval?.signatures.map((s) => s.principal)).toEqual(["alice@example.com"]);
  });

  it("uses the signers file at the run's commit: an expired key no longer approves", async () => {
    repo.commit(files(`alice@example.com valid-before="20200101Z" ${alice.pub}\n`));
    const { plan, files: repoFiles } = await planNightly();
    const r = await refusal(approvePlan(plan, repoFiles, { repoDir: repo.dir }, { key: alice.file }));
    expect(r.code).toBe("approve.not-a-signer");
    expect(r.message).toContain("line 1 expired at 2020-01-01T00:00:00.000Z");
  });

  it("reads every listed signer's approval however many junk refs sit beside it, and at most 20 of those", async () => {
    const commit = repo.commit(files(`alice@example.com ${alice.pub}\n`));
    const { plan, files: repoFiles } = await planNightly();
    const approved = await approvePlan(plan, repoFiles, { repoDir: repo.dir }, { key: alice.file });
    // Planted by someone with push access: 25 refs that sort before alice's and hold no signature.
    const folder = approved.ref.slice(0, approved.ref.lastIndexOf("/"));
    for (let i = 0; i < 25; i++) {
      git(repo.dir, "update-ref", `${folder}/sha256-${String(i).padStart(64, "0")}`, commit);
    }
    const count = await countPlanApprovals(plan, repoFiles, { repoDir: repo.dir });
    expect(count.accepted.map((a) => a.principal)).toEqual(["alice@example.com"]);
    expect(count.refused).toHaveLength(21);
    expect(count.refused.at(-1)?.reason).toBe(
      "5 more ref(s) not named after a key in ops.allowed_signers were not read",
    );
    const { summary } = await runNightly();
    expect(summary.result).toBe("success");
  });

  it("lets a check-mode run (drift) go without approvals; the same commit's real run is still refused", async () => {
    repo.commit(files(`alice@example.com ${alice.pub}\n`));
    const { summary } = await runNightly({ checkMode: true });
    expect(summary.result).toBe("success");
    expect(summary.approval).toBeUndefined();
    expect((await refusal(runNightly())).code).toBe("approval.missing");
  });

  it("refuses a working tree with uncommitted changes, even with allowDirty", async () => {
    repo.commit(files(`alice@example.com ${alice.pub}\n`));
    execFileSync("sh", ["-c", `echo '# edited' >> ${JSON.stringify(join(repo.dir, "jobs/nightly.yaml"))}`]);
    const r = await refusal(runNightly({ allowDirty: true }));
    expect(r.code).toBe("approval.no-commit");
  });
});
