/**
 * Approvals bound to the plan, end to end: opsc as a process, a real `git
 * http-backend` records remote, keys made by ssh-keygen, and signatures checked
 * both ways against the real `ssh-keygen -Y sign` / `-Y verify`.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../../src/core/run-summary.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { git, gitAsync } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { cleanEnv, PROJECT_ROOT } from "../helpers/opsc-cli.js";
import { remoteRuns, startServe } from "../helpers/serve-process.js";

const NS = "opsconductor-approval";
const scratch = mkdtempSync(join(tmpdir(), "opsc-approvals-"));
const keys = join(scratch, "keys");
const home = join(scratch, "home");
let srv: GitHttpServer;
let repo: string;
let env: Record<string, string>;

/** Async: the git server lives in this process, so the CLI must not block it. */
async function opsc(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await promisify(execFile)(
      process.execPath,
      [join(PROJECT_ROOT, "runner/bin/opsc.js"), ...args, "--repo", repo],
      { encoding: "utf8", env, timeout: 60_000 },
    );
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

function keygen(name: string, type: string, passphrase = ""): string {
  const file = join(keys, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", passphrase, "-C", name, "-f", file]);
  return file;
}

function publicKey(file: string): string {
  return readFileSync(`${file}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
}

/** The real `ssh-keygen -Y sign`, over exactly the hash text. */
function sshKeygenSign(key: string, message: string): string {
  return execFileSync("ssh-keygen", ["-Y", "sign", "-f", key, "-n", NS], {
    input: message,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "ignore"],
  });
}

/** The real `ssh-keygen -Y verify`: its exit status and words. */
function sshKeygenVerify(allowed: string, principal: string, signature: string, message: string) {
  const sig = join(scratch, `verify-${Math.random().toString(36).slice(2)}.sig`);
  writeFileSync(sig, signature);
  try {
    const out = execFileSync(
      "ssh-keygen",
      ["-Y", "verify", "-f", allowed, "-I", principal, "-n", NS, "-s", sig],
      { input: message, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] },
    );
    return { ok: true, out };
  } catch (e) {
    return { ok: false, out: String((e as { stderr?: string }).stderr ?? e) };
  }
}

/** Puts a signature on the remote the way anyone with push access could: plain git, no opsc. */
async function plantSignature(ref: string, signature: string): Promise<void> {
  const work = mkdtempSync(join(scratch, "plant-"));
  git(work, "init", "-q");
  writeFileSync(join(work, "signature"), signature);
  git(work, "add", "signature");
  git(work, "commit", "-qm", "planted");
  await gitAsync(work, "push", "-q", srv.url, `HEAD:${ref}`);
}

async function planHash(...args: string[]): Promise<string> {
  const r = await opsc("plan", "deploy", "--format", "json", ...args);
  expect(r.code, r.err).toBe(0);
  return (JSON.parse(r.out) as { planHash: string }).planHash;
}

let alice: string;
let bob: string;
let carol: string;
let mallory: string;
let locked: string;

beforeAll(async () => {
  mkdirSync(keys);
  mkdirSync(home);
  alice = keygen("alice", "ed25519");
  bob = keygen("bob", "rsa");
  carol = keygen("carol", "ecdsa");
  mallory = keygen("mallory", "ed25519");
  locked = keygen("locked", "ed25519", "correct horse battery");
  srv = await startGitHttpServer({ root: mkdtempSync(join(scratch, "srv-")) });
  repo = join(scratch, "automation");
  await gitAsync(scratch, "clone", "-q", srv.url, repo);
  const files: Record<string, string> = {
    "opsconductor.yaml": "name: approvals-test\nrecords: { branch: opsconductor/runs }\n",
    "targets/local.yaml": "targets:\n  here: { transport: local }\n",
    "jobs/deploy.yaml": [
      "inputs:",
      '  version: { type: string, default: "1.0" }',
      "approval: { required: 2, signers: approvers }",
      "targets: { names: [here] }",
      "env:",
      "  VERSION: ${{ inputs.version }}",
      "steps:",
      "  - id: ship",
      "    run: echo shipping $VERSION",
      "",
    ].join("\n"),
    approvers: [
      "# who may approve jobs with approval: { signers: approvers }",
      `alice@example.com ${publicKey(alice)} alice's laptop`,
      `bob@example.com namespaces="${NS}",valid-before="20991231Z" ${publicKey(bob)}`,
      `carol@example.com ${publicKey(carol)}`,
      `locked@example.com ${publicKey(locked)}`,
      "",
    ].join("\n"),
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(repo, path, ".."), { recursive: true });
    writeFileSync(join(repo, path), content);
  }
  git(repo, "add", "-A");
  git(repo, "commit", "-qm", "deploy job needing two approvals");
  await gitAsync(repo, "push", "-q", "origin", "main");
  env = cleanEnv(home, { USER: "tester" });
}, 60_000);

afterAll(async () => {
  await srv.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("approvals bound to the plan", () => {
  it("plan shows the hash and that nobody signed; a run without signatures is refused", async () => {
    const hash = await planHash();
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const text = await opsc("plan", "deploy");
    expect(text.out).toContain(`plan hash ${hash}`);
    expect(text.out).toContain("approval needs 2 signer(s) from approvers; signed by 0 of 2");
    const run = await opsc("run", "deploy");
    expect(run.code).toBe(3);
    expect(run.err).toContain(`needs 2 approval(s) of plan ${hash}; it has 0`);
    expect(run.err).not.toMatch(/\n\s+at /);
  });

  it("opsc approve signs with ed25519 and rsa keys; real ssh-keygen -Y verify accepts both", async () => {
    const hash = await planHash();
    const a = await opsc("approve", "deploy", "--key", alice, "--format", "json");
    expect(a.code, a.err).toBe(0);
    const result = JSON.parse(a.out) as { status: string; ref: string; principal: string; planHash: string };
    expect(result).toMatchObject({ status: "pushed", principal: "alice@example.com", planHash: hash });
    expect(result.ref).toMatch(
      new RegExp(`^refs/opsconductor/approvals/deploy/${hash}/sha256-[0-9a-f]{64}$`),
    );
    // On the remote, readable with plain git.
    const signature = execFileSync("git", ["--git-dir", srv.bareDir, "show", `${result.ref}:signature`], {
      encoding: "utf8",
    });
    const planText = execFileSync("git", ["--git-dir", srv.bareDir, "show", `${result.ref}:plan.json`]);
    expect(execFileSync("sha256sum", { input: planText, encoding: "utf8" }).split(" ")[0]).toBe(hash);
    const allowed = join(repo, "approvers");
    const verified = sshKeygenVerify(allowed, "alice@example.com", signature, hash);
    expect(verified.ok, verified.out).toBe(true);
    const otherHash = `${hash.slice(0, -1)}${hash.endsWith("0") ? "1" : "0"}`;
    expect(sshKeygenVerify(allowed, "alice@example.com", signature, otherHash).ok).toBe(false);

    // RSA: a second signature pushed for a plan with another input, verified the same way.
    const hash2 = await planHash("--input", "version=2.0");
    expect(hash2).not.toBe(hash);
    const b = await opsc("approve", "deploy", "--input", "version=2.0", "--key", bob, "--format", "json");
    expect(b.code, b.err).toBe(0);
    const bobRef = (JSON.parse(b.out) as { ref: string }).ref;
    const bobSig = execFileSync("git", ["--git-dir", srv.bareDir, "show", `${bobRef}:signature`], {
      encoding: "utf8",
    });
    const bobVerified = sshKeygenVerify(allowed, "bob@example.com", bobSig, hash2);
    expect(bobVerified.ok, bobVerified.out).toBe(true);
  });

  it("refuses with one too few, a signer not in approvers, a signature of another plan hash", async () => {
    const hash = await planHash();
    // mallory is not in approvers: opsc approve refuses to publish, and a planted signature does not count.
    const m = await opsc("approve", "deploy", "--key", mallory);
    expect(m.code).toBe(3);
    expect(m.err).toContain("the key is not in the signers file");
    await plantSignature(
      `refs/opsconductor/approvals/deploy/${hash}/sha256-${"a".repeat(64)}`,
      sshKeygenSign(mallory, hash),
    );
    // bob's real ssh-keygen signature of another hash, planted where this plan's approvals are.
    const other = await planHash("--input", "version=3.0");
    await plantSignature(
      `refs/opsconductor/approvals/deploy/${hash}/sha256-${"b".repeat(64)}`,
      sshKeygenSign(bob, other),
    );
    const run = await opsc("run", "deploy");
    expect(run.code).toBe(3);
    expect(run.err).toContain(`needs 2 approval(s) of plan ${hash}; it has 1 (alice@example.com)`);
    expect(run.err).toContain("the key is not in the signers file");
    expect(run.err).toContain("the signature does not match the message and key");
    const plan = await opsc("plan", "deploy");
    expect(plan.out).toContain("signed by 1 of 2 (alice@example.com)");
  });

  it("accepts a real ssh-keygen signature (ecdsa) and runs; the record keeps the signatures", async () => {
    const hash = await planHash();
    const sigFile = join(scratch, "carol.sig");
    writeFileSync(sigFile, sshKeygenSign(carol, hash));
    const c = await opsc("approve", "deploy", "--signature", sigFile);
    expect(c.code, c.err).toBe(0);
    expect(c.out).toContain("as carol@example.com");
    expect(c.out).toContain(`plan hash ${hash}`);
    const run = await opsc("run", "deploy");
    expect(run.code, run.err).toBe(0);
    await gitAsync(repo, "fetch", "-q", "origin", "opsconductor/runs");
    const path = git(repo, "ls-tree", "-r", "--name-only", "FETCH_HEAD")
      .split("\n")
      .find((p) => p.endsWith("run.json"))!;
    const record = JSON.parse(git(repo, "show", `FETCH_HEAD:${path}`)) as RunSummary;
    expect(record.result).toBe("success");
    expect(record.planHash).toBe(hash);
    expect(record.approval?.required).toBe(2);
    expect(record.approval?.signatures.map((s) => s.principal)).toEqual([
      "alice@example.com",
      "carol@example.com",
    ]);
    // Each recorded signature still verifies offline against the approvers file at the run's commit.
    const allowed = join(scratch, "approvers-at-commit");
    writeFileSync(allowed, git(repo, "show", `${record.sourceCommit}:approvers`) + "\n");
    for (const s of record.approval!.signatures) {
      expect(sshKeygenVerify(allowed, s.principal, s.signature, hash).ok).toBe(true);
    }
  });

  it("a changed input is another plan: refused until it has its own approvals", async () => {
    // bob signed version=2.0 earlier; alice's and carol's signatures are for the default input.
    const run = await opsc("run", "deploy", "--input", "version=2.0");
    expect(run.code).toBe(3);
    expect(run.err).toMatch(/needs 2 approval\(s\) of plan [0-9a-f]{64}; it has 1 \(bob@example.com\)/);
    const a = await opsc("approve", "deploy", "--input", "version=2.0", "--key", alice);
    expect(a.code, a.err).toBe(0);
    const ok = await opsc("run", "deploy", "--input", "version=2.0");
    expect(ok.code, ok.err).toBe(0);
  });

  it("an encrypted key needs its passphrase from the environment, never an argument", async () => {
    const no = await opsc("approve", "deploy", "--key", locked);
    expect(no.code).toBe(3);
    expect(no.err).toContain("OPSC_SIGNING_KEY_PASSPHRASE");
    const saved = env;
    env = { ...env, OPSC_SIGNING_KEY_PASSPHRASE: "correct horse battery" };
    try {
      const yes = await opsc("approve", "deploy", "--key", locked);
      expect(yes.code, yes.err).toBe(0);
      expect(yes.out).toContain("as locked@example.com");
      expect(yes.out + yes.err).not.toContain("correct horse battery");
    } finally {
      env = saved;
    }
  });

  it("opsc serve checks too: an approved plan runs from the API, an unapproved input is refused", async () => {
    const token = "approvals-api-token";
    const s = await startServe(
      ["--repo", srv.url, "--state", mkdtempSync(join(scratch, "state-"))],
      cleanEnv(mkdtempSync(join(scratch, "serve-home-")), {
        OPSC_API_TOKEN: token,
        OPSC_WEBHOOK_SECRET: "approvals-webhook-secret",
        OPSC_LOG_LEVEL: "info",
      }),
    );
    try {
      const start = async (inputs: Record<string, string>) => {
        const r = await fetch(`${s.url}/api/jobs/deploy/runs`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ inputs }),
        });
        return ((await r.json()) as { id: string }).id;
      };
      const before = remoteRuns(srv).length;
      await start({ version: "7.7" });
      await eventually(() => s.lines.some((l) => l.includes("run could not start or finish")), 30_000);
      const refusal = s.lines.find((l) => l.includes("run could not start or finish"))!;
      expect(refusal).toMatch(/needs 2 approval\(s\) of plan [0-9a-f]{64}; it has 0/);

      const hash = await planHash();
      await start({});
      await eventually(() => remoteRuns(srv).length > before, 30_000);
      const record = remoteRuns(srv).find(
        (r) => r.planHash === hash && (r.trigger as { kind: string }).kind === "api",
      );
      expect(record?.result).toBe("success");
      expect((record?.approval as RunSummary["approval"])?.signatures.map((x) => x.principal)).toEqual([
        "alice@example.com",
        "carol@example.com",
        // the encrypted key's approval, from the test before
        "locked@example.com",
      ]);
    } finally {
      s.proc.kill("SIGTERM");
      await s.exited;
    }
  });
});
