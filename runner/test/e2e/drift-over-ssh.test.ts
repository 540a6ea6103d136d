/**
 * `opsc drift` as a process against two real OpenSSH targets and a real
 * `git http-backend` remote: a file changed by hand on one target produces a
 * drift branch whose report names that target, shows the diff and calls the
 * other clean, and a `drift` webhook; after the job runs again the next drift
 * run reports clean on a new commit on top. A secret rendered into a template
 * appears nowhere: not in the branch's files or messages, not on the terminal.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { git, TestRepo } from "../helpers/automation-repo.js";
import { assertNoCanary, CANARY } from "../helpers/canary.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { cleanEnv, opscAsync, type CliResult } from "../helpers/opsc-cli.js";
import { sopsSshCredential } from "../helpers/sops-credential.js";
import { SSHD_PATH, startSshd, type Sshd } from "../helpers/sshd.js";
import { startReceiver, type Receiver } from "../notify/http-receiver.js";

const isRoot = process.getuid?.() === 0;
const BRANCH = "opsconductor/drift/site";

interface Report {
  status: string;
  job: string;
  targets: Array<{
    name: string;
    status: string;
    steps: Array<{
      id: string;
      files?: Array<{ path: string; change: string; diff?: string; secret?: boolean }>;
    }>;
  }>;
}

describe.skipIf(!SSHD_PATH || !isRoot)("opsc drift over SSH", () => {
  let sshd: Sshd;
  let srv: GitHttpServer;
  let receiver: Receiver;
  let repo: TestRepo;
  let dir: string;
  let keys: string;
  let env: Record<string, string>;
  let printed = "";

  const remote = (...args: string[]): string => git(srv.bareDir, ...args);
  async function opsc(...args: string[]): Promise<CliResult> {
    const r = await opscAsync(args, { cwd: repo.dir, env });
    printed += r.stdout + r.stderr;
    return r;
  }

  beforeAll(async () => {
    sshd = await startSshd(["127.0.0.21", "127.0.0.22"], { permitRootLogin: true });
    srv = await startGitHttpServer();
    receiver = await startReceiver(() => ({ status: 204 }));
    dir = mkdtempSync(join(tmpdir(), "opsc-drift-"));
    chmodSync(dir, 0o755);
    const { credential: encrypted, identity } = await sopsSshCredential(
      sshd.clientKey,
      `app:\n  token: ${CANARY}\n`,
    );
    keys = mkdtempSync(join(tmpdir(), "opsc-drift-key-"));
    writeFileSync(join(keys, "keys.txt"), `${identity}\n`, { mode: 0o600 });
    repo = new TestRepo("opsc-drift-repo-");
    env = cleanEnv(repo.dir, { SOPS_AGE_KEY_FILE: join(keys, "keys.txt"), OPSC_ACTOR: "drift-test" });
    repo.commit({
      "opsconductor.yaml": "name: drift-test\n",
      "targets/web.yaml": [
        `defaults: { port: ${sshd.port}, user: root, host_key: "${sshd.hostKey}", credential: prod/ssh }`,
        "targets:",
        `  web-a: { host: 127.0.0.21, vars: { dir: "${dir}/a" } }`,
        `  web-b: { host: 127.0.0.22, vars: { dir: "${dir}/b" } }`,
        "",
      ].join("\n"),
      "credentials/prod.sops.yaml": encrypted,
      "files/app.conf": "# {{ target.name }}\nport=8080\nworkers=4\n",
      "files/token.conf": "token={{ secrets.TOKEN }}\n",
      "jobs/site.yaml": [
        "targets: { names: [web-a, web-b] }",
        "secrets: { TOKEN: prod/app.token }",
        "notify:",
        `  - { on: [drift, drift-resolved], webhook: { url: "${receiver.url}/hook" } }`,
        "steps:",
        "  - id: dirs",
        '    env: { DIR: "${{ target.vars.dir }}" }',
        '    run: mkdir -p "$DIR"',
        '    check: test -d "$DIR"',
        "  - id: conf",
        '    copy: { src: files/app.conf, dest: "${{ target.vars.dir }}/app.conf", template: true }',
        "  - id: token",
        '    copy: { src: files/token.conf, dest: "${{ target.vars.dir }}/token.conf", template: true, mode: "0600" }',
        "    secrets: [TOKEN]",
        "",
      ].join("\n"),
    });
    git(repo.dir, "remote", "add", "origin", srv.url);
  }, 60_000);

  afterAll(async () => {
    await sshd?.stop();
    await srv?.close();
    await receiver?.close();
    for (const d of [dir, keys, repo?.dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("a target changed by hand is reported with its diff on a pushed drift branch; after the fix it reports clean", async () => {
    const applied = await opsc("run", "site");
    expect(applied.stderr).toBe("");
    expect(applied.status).toBe(0);
    expect(readFileSync(join(dir, "a/token.conf"), "utf8")).toBe(`token=${CANARY}\n`);

    // Nothing drifted and no drift branch yet: said so, and no branch is created.
    const clean = await opsc("drift", "site");
    expect(clean.status).toBe(0);
    expect(clean.stdout).toContain("site: clean: nothing would change on 2 target(s)");
    expect(remote("for-each-ref", "--format=%(refname)", "refs/heads/opsconductor/drift")).toBe("");

    // By hand, on web-a only: a setting edited, and the secret file overwritten.
    writeFileSync(join(dir, "a/app.conf"), "# web-a\nport=9999\nworkers=4\n");
    writeFileSync(join(dir, "a/token.conf"), "token=by-hand\n", { mode: 0o600 });

    const drifted = await opsc("drift", "site");
    expect(drifted.stderr).toBe("");
    expect(drifted.status).toBe(5);
    expect(drifted.stdout).toContain("site: drift on 1 of 2 target(s): web-a");
    expect(drifted.stdout).toMatch(/report: opsconductor\/drift\/site [0-9a-f]{12} \(pushed to origin\)/);

    const first = remote("rev-parse", BRANCH);
    const report = JSON.parse(remote("show", `${BRANCH}:drift.json`)) as Report;
    expect(report.status).toBe("drift");
    const byName = Object.fromEntries(report.targets.map((t) => [t.name, t]));
    expect(byName["web-b"]).toMatchObject({ status: "clean", steps: [] });
    expect(byName["web-a"]!.status).toBe("drift");
    expect(byName["web-a"]!.steps.map((s) => s.id)).toEqual(["conf", "token"]);
    const [conf] = byName["web-a"]!.steps[0]!.files!;
    expect(conf).toMatchObject({ path: `${dir}/a/app.conf`, change: "content" });
    expect(conf!.diff).toContain("-port=9999");
    expect(conf!.diff).toContain("+port=8080");
    expect(byName["web-a"]!.steps[1]!.files).toEqual([
      { path: `${dir}/a/token.conf`, change: "content", secret: true },
    ]);
    const md = remote("show", `${BRANCH}:drift.md`);
    expect(md).toContain("| web-a | drift | conf, token |");
    expect(md).toContain("| web-b | clean |  |");
    expect(md).toContain("## web-a: drift");
    expect(md).not.toContain("## web-b");
    expect(md).toContain("+port=8080");
    expect(md).toContain("(secret content: diff not shown)");

    // The job's notify: heard about it, naming the drifted target and the report's commit.
    const hooks = receiver.received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(hooks).toHaveLength(1);
    expect(hooks[0]).toMatchObject({
      event: "drift",
      job: "site",
      drift: { branch: BRANCH, commit: first, targets: ["web-a"] },
    });

    // The fix: run the job again; the next drift run is clean, a new commit on top of the drift one.
    const fixed = await opsc("run", "site");
    expect(fixed.status).toBe(0);
    const after = await opsc("drift", "site");
    expect(after.stderr).toBe("");
    expect(after.status).toBe(0);
    expect(after.stdout).toContain("site: clean: nothing would change on 2 target(s)");
    expect(remote("rev-parse", `${BRANCH}~1`)).toBe(first);
    expect(JSON.parse(remote("show", `${BRANCH}:drift.json`))).toMatchObject({ status: "clean" });
    expect(remote("show", `${BRANCH}:drift.md`)).toContain("**clean**");
    expect(remote("log", "--format=%s", BRANCH).split("\n")).toEqual([
      expect.stringMatching(/^clean: /),
      expect.stringMatching(/^drift: site: drift on 1 of 2 target\(s\): web-a$/),
    ]);
    // Resolved: said once, with the clean report's commit; a further clean check says nothing.
    const resolvedHooks = receiver.received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(resolvedHooks).toHaveLength(2);
    expect(resolvedHooks[1]).toMatchObject({
      event: "drift-resolved",
      job: "site",
      drift: { branch: BRANCH, commit: remote("rev-parse", BRANCH), targets: [] },
    });
    expect(resolvedHooks[1]!.text).toBe("site no longer drifts: all 2 targets match the repository again");
    const again = await opsc("drift", "site");
    expect(again.status).toBe(0);
    expect(receiver.received).toHaveLength(2);

    // The secret was really used (it is on the target) and shows nowhere.
    expect(readFileSync(join(dir, "a/token.conf"), "utf8")).toBe(`token=${CANARY}\n`);
    assertNoCanary(printed, "opsc output");
    for (const rev of [BRANCH, `${BRANCH}~1`]) {
      for (const file of remote("ls-tree", "--name-only", rev).split("\n")) {
        assertNoCanary(remote("show", `${rev}:${file}`), `${rev}:${file}`);
      }
    }
    assertNoCanary(remote("log", "--format=%B", BRANCH), "drift commit messages");
    assertNoCanary(receiver.received.map((r) => r.body).join("\n"), "webhook bodies");
  }, 240_000);
});
