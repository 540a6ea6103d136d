/**
 * A run opens its first targets' SSH connections (and decrypts their
 * credential) while it still takes its target locks, and its steps use those
 * connections: one login per target. Nothing runs before the lock is held; a
 * connection the server drops during the wait is opened again; a target the
 * locks skip has its connection closed. Real OpenSSH sshd, real sops+age
 * credential, locks in the local repository.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeJob } from "../../src/app/execute-job.js";
import { LocalLeaseBackend } from "../../src/git/leases.js";
import { TestRepo } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { holdTargetLock } from "../helpers/held-lock.js";
import { sopsSshCredential } from "../helpers/sops-credential.js";
import { SSHD_PATH, startSshd, type Sshd } from "../helpers/sshd.js";

const OTHER_RUN = "20261126T090000Z-other-abcd";
const trigger = { kind: "manual", actor: "early-test", by: { name: "early-test", via: "cli" } } as const;

describe.skipIf(!SSHD_PATH)("connections opened while the locks are taken", () => {
  let sshd: Sshd;
  let repo: TestRepo;
  let work: string;
  let env: NodeJS.ProcessEnv;

  /** Logins sshd accepted so far. */
  const logins = (): number => sshd.log().match(/Accepted publickey/g)?.length ?? 0;
  /** The sshd processes serving connections (children of the listener). */
  const sessions = (): string[] => {
    const pid = execFileSync("cat", [join(sshd.dir, "sshd.pid")], { encoding: "utf8" }).trim();
    try {
      return execFileSync("pgrep", ["-P", pid], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
    } catch {
      return []; // pgrep exits 1 when there are none
    }
  };

  /** A run of `waits` holding its connections to a and b while it waits for a's lock, held by the test. */
  async function waitingForA() {
    const before = logins();
    const lease = await holdTargetLock(new LocalLeaseBackend(repo.gitdir), "a", OTHER_RUN);
    const running = run("waits");
    await eventually(() => logins() - before >= 2, 20_000);
    expect(logins() - before).toBe(2);
    return { before, lease, running };
  }

  const run = (job: string) => executeJob({ repoDir: repo.dir, job, inputs: {}, trigger, push: false, env });

  beforeAll(async () => {
    sshd = await startSshd(["127.0.0.31", "127.0.0.32"]);
    work = mkdtempSync(join(tmpdir(), "opsc-early-work-"));
    execFileSync("chmod", ["777", work]);
    const { credential, identity } = await sopsSshCredential(sshd.clientKey);
    const keyFile = join(work, "keys.txt");
    writeFileSync(keyFile, `${identity}\n`, { mode: 0o600 });
    env = { PATH: process.env.PATH, HOME: work, SOPS_AGE_KEY_FILE: keyFile };
    const steps = (extra: string) =>
      [
        `targets: { names: [a, b] }`,
        extra,
        "steps:",
        "  - id: mark",
        `    run: touch "${work}/$OPSC_TARGET"`,
        `    env: { OPSC_TARGET: "\${{ target.name }}" }`,
        "",
      ].join("\n");
    repo = new TestRepo("opsc-early-repo-");
    repo.commit({
      "opsconductor.yaml": "name: early\n",
      "targets/ssh.yaml": [
        `defaults: { port: ${sshd.port}, user: ${sshd.user}, host_key: "${sshd.hostKey}", credential: prod/ssh }`,
        "targets:",
        "  a: { host: 127.0.0.31 }",
        "  b: { host: 127.0.0.32 }",
        "",
      ].join("\n"),
      "credentials/prod.sops.yaml": credential,
      "jobs/waits.yaml": steps("locks: { wait: 1m }"),
      "jobs/skips.yaml": steps("locks: skip"),
    });
  });

  afterAll(async () => {
    await sshd?.stop();
    repo?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("logs in to every target while waiting for a lock, runs nothing before it is held, and uses those logins", async () => {
    // Both targets are logged in to while the run still waits for a's lock, and nothing ran.
    const { before, lease, running } = await waitingForA();
    expect(existsSync(join(work, "a"))).toBe(false);
    expect(existsSync(join(work, "b"))).toBe(false);
    await lease.release();
    const { summary } = await running;
    expect(summary.result).toBe("success");
    expect(summary.targets.map((t) => t.outcome)).toEqual(["changed", "changed"]);
    expect(existsSync(join(work, "a")) && existsSync(join(work, "b"))).toBe(true);
    // The steps ran over the connections opened early: still one login per target.
    expect(logins() - before).toBe(2);
    rmSync(join(work, "a"));
    rmSync(join(work, "b"));
  }, 60_000);

  it("opens a connection again when the server dropped it during the wait", async () => {
    const { before, lease, running } = await waitingForA();
    await eventually(() => sessions().length > 0, 10_000);
    execFileSync("kill", sessions());
    await eventually(() => sessions().length === 0, 10_000);
    await lease.release();
    const { summary } = await running;
    expect(summary.result).toBe("success");
    expect(logins() - before).toBe(4);
    rmSync(join(work, "a"));
    rmSync(join(work, "b"));
  }, 60_000);

  it("closes the connection of a target the locks skip, and runs nothing there", async () => {
    const lease = await holdTargetLock(new LocalLeaseBackend(repo.gitdir), "b", OTHER_RUN);
    try {
      const { summary } = await run("skips");
      const outcome = Object.fromEntries(summary.targets.map((t) => [t.name, t.outcome]));
      expect(outcome).toEqual({ a: "changed", b: "skipped" });
      expect(existsSync(join(work, "a"))).toBe(true);
      expect(existsSync(join(work, "b"))).toBe(false);
      // No connection is left behind: sshd serves none once the run has returned.
      await eventually(() => sessions().length === 0, 10_000);
    } finally {
      await lease.release();
    }
  }, 60_000);
});
