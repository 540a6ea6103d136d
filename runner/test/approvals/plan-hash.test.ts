import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { computePlanHash, planHashText } from "../../src/core/plan-hash.js";
import { buildPlan, type PlanRequest } from "../../src/plan/build-plan.js";
import { modelFrom } from "../helpers/automation-repo.js";

const keys = mkdtempSync(join(tmpdir(), "opsc-plan-hash-"));
function signerKey(name: string): string {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(keys, name)]);
  return readFileSync(join(keys, `${name}.pub`), "utf8").trim();
}

const FILES = {
  "targets/web.yaml":
    "targets:\n  web-1: { host: 10.0.0.1, user: deploy }\n  web-2: { host: 10.0.0.2, user: deploy }\n",
  "credentials/prod.sops.yaml":
    'db:\n  password: "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"\nsops:\n  mac: x\n  version: 3.8.1\n',
  approvers: `a@example.com ${signerKey("a")}\nb@example.com ${signerKey("b")}\n`,
  "jobs/deploy.yaml": [
    "inputs:",
    '  version: { type: string, default: "1.0" }',
    "approval: { required: 2, signers: approvers }",
    "targets: { names: [web-1, web-2] }",
    "secrets: { DB_PASSWORD: prod/db.password }",
    "env:",
    "  VERSION: ${{ inputs.version }}",
    "steps:",
    "  - id: ship",
    "    run: ./ship $VERSION",
    "",
  ].join("\n"),
};

function planOf(files: Record<string, string>, request: Partial<PlanRequest> = {}) {
  const { plan, diagnostics } = buildPlan(modelFrom(files), {
    job: "deploy",
    trigger: { kind: "manual", actor: "alice" },
    commit: "a".repeat(40),
    ...request,
  });
  if (!plan) throw new Error(JSON.stringify(diagnostics));
  return plan;
}

describe("plan hash", () => {
  const base = planOf(FILES);

  it("is the SHA-256 of the canonical plan text, set on every plan", () => {
    expect(base.planHash).toMatch(/^[0-9a-f]{64}$/);
    expect(base.planHash).toBe(computePlanHash(base));
    expect(createHash("sha256").update(planHashText(base)).digest("hex")).toBe(base.planHash);
  });

  it("is the same whoever or whatever starts the same work, from whichever branch", () => {
    const bySchedule = planOf(FILES, {
      trigger: { kind: "schedule", actor: "schedule" },
      ref: "refs/heads/prod",
    });
    expect(bySchedule.planHash).toBe(base.planHash);
    expect(planHashText(base)).not.toContain("alice");
  });

  it("changes with the commit, an input, the targets, a script, check mode", () => {
    const variants = [
      planOf(FILES, { commit: "b".repeat(40) }),
      planOf(FILES, { inputs: { version: "2.0" } }),
      planOf(FILES, { filter: { names: ["web-1"] } }),
      planOf({ ...FILES, "jobs/deploy.yaml": FILES["jobs/deploy.yaml"].replace("./ship", "./ship --force") }),
      planOf({ ...FILES, "targets/web.yaml": FILES["targets/web.yaml"].replace("10.0.0.2", "10.0.0.3") }),
      planOf(FILES, { checkMode: true }),
    ];
    const hashes = new Set([base.planHash, ...variants.map((p) => p.planHash)]);
    expect(hashes.size).toBe(variants.length + 1);
  });

  it("covers secret references, never values", () => {
    const text = planHashText(base);
    expect(text).toContain('"DB_PASSWORD":"prod/db.password"');
    expect(text).not.toContain("ENC[");
  });
});
