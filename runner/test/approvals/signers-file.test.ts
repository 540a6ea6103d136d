/** `approval:` in validate: the signers file exists, parses like ssh-keygen reads it, and has enough signers. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllowedSigners, signerFor } from "../../src/core/allowed-signers.js";
import { loadRepo } from "../../src/repo/load-repo.js";
import { BASE_FILES, jobYaml } from "../helpers/automation-repo.js";

const keys = mkdtempSync(join(tmpdir(), "opsc-signers-"));
function key(name: string, type = "ed25519"): string {
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", join(keys, name)]);
  return readFileSync(join(keys, `${name}.pub`), "utf8").trim();
}
const ALICE = key("alice");
const BOB = key("bob", "ecdsa");

function diagnostics(files: Record<string, string>) {
  const enc = new TextEncoder();
  const all = { ...BASE_FILES, ...files };
  return loadRepo({
    files: new Map(Object.entries(all).map(([k, v]) => [k, enc.encode(v)])),
  }).diagnostics.filter((d) => d.severity === "error");
}

const JOB = jobYaml("approval: { required: 2, signers: approvers }");

describe("validate: approval signers file", () => {
  it("accepts a well-formed file with enough signers", () => {
    const approvers = `# reviewers\n\nalice@example.com ${ALICE}\nbob@example.com namespaces="opsconductor-approval",valid-after="20260101" ${BOB}\n`;
    expect(diagnostics({ "jobs/deploy.yaml": JOB, approvers })).toEqual([]);
  });

  it("reports a missing file at the job's signers field", () => {
    const d = diagnostics({ "jobs/deploy.yaml": JOB });
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ file: "jobs/deploy.yaml", line: 1, code: "approval.signers-missing" });
    expect(d[0]!.message).toContain("approvers does not exist");
  });

  it("reports each broken line at file:line:col", () => {
    const approvers = [
      `alice@example.com ${ALICE}`,
      `bob@example.com valid-before="2026-13-01" ${BOB}`,
      `carol@example.com cert-authority ${ALICE}`,
      `dave@example.com ssh-ed25519 not*base64`,
      `erin@example.com ssh-rsa ${ALICE.split(" ")[1]}`,
      `frank@example.com nonsense="x" ${ALICE}`,
    ].join("\n");
    const d = diagnostics({ "jobs/deploy.yaml": JOB, approvers }).filter((x) => x.file === "approvers");
    expect(d.map((x) => [x.line, x.col])).toEqual([
      [2, 17],
      [3, 19],
      [4, 30],
      [5, 18],
      [6, 19],
    ]);
    expect(d.map((x) => x.code)).toEqual(Array(5).fill("approval.signers-invalid"));
    expect(d[0]!.message).toContain("is not a time");
    expect(d[1]!.message).toContain("cert-authority");
    expect(d[2]!.message).toContain("not base64");
    expect(d[3]!.message).toContain("ssh-ed25519 key");
    expect(d[4]!.message).toContain('unknown option "nonsense="x""');
  });

  it("refuses a job needing more signers than the file lists", () => {
    const d = diagnostics({ "jobs/deploy.yaml": JOB, approvers: `alice@example.com ${ALICE}\n` });
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ code: "approval.too-few-signers" });
    expect(d[0]!.message).toBe("the job needs 2 signer(s) but approvers lists 1");
  });

  it("the signers field names a root allowed_signers file only", () => {
    const d = diagnostics({
      "jobs/deploy.yaml": jobYaml("approval: { required: 1, signers: files/approvers }"),
    });
    expect(d.map((x) => x.code)).toContain("schema.pattern");
  });
});

describe("signer windows and namespaces", () => {
  const { signers } = parseAllowedSigners(
    `alice@example.com namespaces="git,opsconductor-*",valid-after="20260101Z",valid-before="20270101Z" ${ALICE}\n` +
      `bob@example.com namespaces="!opsconductor-approval,*" ${BOB}\n`,
  );
  const alice = signers[0]!.publicKey;
  const bob = signers[1]!.publicKey;

  it("counts a key only inside its validity window", () => {
    expect(
      signerFor(signers, alice, "opsconductor-approval", new Date("2026-06-01T00:00:00Z")),
    ).toHaveProperty("signer");
    expect(signerFor(signers, alice, "opsconductor-approval", new Date("2025-12-31T00:00:00Z"))).toEqual({
      refused: "line 1 is valid only after 2026-01-01T00:00:00.000Z",
    });
    expect(signerFor(signers, alice, "opsconductor-approval", new Date("2027-01-02T00:00:00Z"))).toEqual({
      refused: "line 1 expired at 2027-01-01T00:00:00.000Z",
    });
  });

  it("matches namespaces as ssh does (wildcards, negation)", () => {
    const now = new Date("2026-06-01T00:00:00Z");
    expect(signerFor(signers, bob, "opsconductor-approval", now)).toEqual({
      refused: "line 2 does not allow namespace opsconductor-approval",
    });
    expect(signerFor(signers, bob, "file", now)).toHaveProperty("signer");
  });
});
