/**
 * A force-pushed rewrite of the records branch on origin, against a real
 * `git http-backend`: `opsc audit verify --remote` sees what origin holds now
 * and says it was rewritten, and a runner refuses to build on the forged tip.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { RunSummary } from "../../src/core/run-summary.js";
import { hashLine, rechainAuditLine } from "../../src/records/audit-chain.js";
import { commitRecord, pushPendingRecords } from "../../src/records/commit-record.js";
import type { GitHttpServer } from "../helpers/git-http-server.js";
import {
  git,
  gitNet,
  RECORDS_BRANCH,
  recordsRemote,
  recordsSettings,
  runSummary,
} from "../helpers/records-remote.js";
import { PROJECT_ROOT } from "../helpers/opsc-cli.js";

const BRANCH = RECORDS_BRANCH;
const settings = recordsSettings;
const { scratch, server } = recordsRemote("opsc-rewrite-");

/** The built CLI, asynchronously: the git server lives in this process. */
async function opsc(repo: string, env: NodeJS.ProcessEnv, ...args: string[]) {
  try {
    const r = await promisify(execFile)(
      process.execPath,
      [join(PROJECT_ROOT, "runner/bin/opsc.js"), ...args, "--repo", repo],
      { encoding: "utf8", env: { PATH: process.env.PATH, HOME: scratch, ...env } },
    );
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

let serial = 0;
function summary(job: string): RunSummary {
  serial++;
  return runSummary(job, serial, { minute: 16, result: serial % 2 === 0 ? "failure" : "success" });
}

/** A runner's automation repository with origin on a fresh server, and two records pushed. */
async function setup(name: string) {
  const srv = await server();
  const repo = join(scratch, name);
  execFileSync("git", ["init", "-q", "-b", "main", repo]);
  git(repo, "remote", "add", "origin", srv.url);
  writeFileSync(join(repo, "opsconductor.yaml"), `name: ${name}\n`);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, OPSC_STATE_DIR: join(scratch, `${name}-state`) };
  const runs: string[] = [];
  for (const job of ["first", "second"]) {
    const r = await commitRecord({
      repoDir: repo,
      settings,
      summary: summary(job),
      logs: { "web-1": "ok\n" },
      env,
    });
    expect(r.push.status).toBe("pushed");
    runs.push(r.runId);
  }
  return { srv, repo, env, runs };
}

/**
 * Someone with force-push rights replaces origin's records branch: the newest
 * record commit is dropped and the one before it amended (its log "tidied").
 */
async function forcePushRewrite(srv: GitHttpServer, name: string, rewindOnly = false): Promise<string> {
  const dir = join(scratch, `${name}-forger`);
  await gitNet(scratch, "clone", "-q", "--branch", BRANCH, srv.url, dir);
  git(dir, "reset", "-q", "--hard", "HEAD~1");
  if (rewindOnly) {
    await gitNet(dir, "push", "-q", "--force", "origin", BRANCH);
    return git(dir, "rev-parse", "HEAD").trim();
  }
  const log = execFileSync("find", [join(dir, "runs"), "-name", "web-1.log"], { encoding: "utf8" }).trim();
  writeFileSync(log, "nothing happened\n");
  git(dir, "add", "-A");
  git(
    dir,
    "-c",
    "user.name=mallory",
    "-c",
    "user.email=m@example.com",
    "commit",
    "-q",
    "--amend",
    "--no-edit",
  );
  await gitNet(dir, "push", "-q", "--force", "origin", BRANCH);
  return git(dir, "rev-parse", "HEAD").trim();
}

describe("opsc audit verify --remote after a force-push", () => {
  it("verifies what origin holds now and reports a rewind as a rewrite, not as intact", async () => {
    const { srv, repo, env } = await setup("verify-rewind");
    const before = await opsc(repo, env, "audit", "verify", "--remote");
    expect(before.code).toBe(0);
    expect(before.out).toMatch(/^audit trail intact: 2 lines, 2 runs/);
    const forged = await forcePushRewrite(srv, "verify-rewind", true);
    const after = await opsc(repo, env, "audit", "verify", "--remote");
    expect(after.code).toBe(1);
    expect(after.out).toMatch(
      /^origin's history REWRITTEN: opsconductor\/runs is at [0-9a-f]{12}, which does not extend/,
    );
    expect(after.out).toContain(`at ${forged.slice(0, 12)})`);
    expect(after.out).toContain(`opsc audit accept-remote ${forged.slice(0, 12)}`);
    expect(after.out).not.toMatch(/intact/);
    // Asking again still reports it: the fetch moved the remote-tracking ref, not the known tip.
    expect((await opsc(repo, env, "audit", "verify", "--remote")).code).toBe(1);
  });

  it("reports a rewritten history whose chain is broken too", async () => {
    const { srv, repo, env } = await setup("verify-amend");
    const forged = await forcePushRewrite(srv, "verify-amend");
    const after = await opsc(repo, env, "audit", "verify", "--remote");
    expect(after.code).toBe(1);
    expect(after.out).toContain("REWRITTEN");
    expect(after.out).toMatch(
      /audit trail BROKEN at runs\/.*\/targets\/web-1\.log: changed after its audit line/,
    );
    expect(after.out).toContain(forged.slice(0, 12));
  });
});

describe("a runner after a force-push of the records branch", () => {
  it("refuses to build on the forged tip, keeps its record, and pushes it once the tip is accepted", async () => {
    const { srv, repo, env, runs } = await setup("runner");
    const forged = await forcePushRewrite(srv, "runner", true);
    const s = summary("third");
    const r = await commitRecord({ repoDir: repo, settings, summary: s, logs: { "web-1": "ok\n" }, env });
    expect(r.push).toMatchObject({ status: "rewritten", code: "records.remote-rewritten" });
    expect(r.push.reason).toMatch(/origin's opsconductor\/runs was rewritten/);
    expect(r.push.reason).toContain(forged.slice(0, 12));
    expect(r.push.hint).toContain(`opsc audit accept-remote ${forged.slice(0, 12)}`);
    // Nothing was built on the forged tip, and the record waits on the local branch.
    expect(git(srv.bareDir, "rev-parse", BRANCH).trim()).toBe(forged);
    expect(git(repo, "ls-tree", "-r", "--name-only", BRANCH)).toContain(`${r.path}/run.json`);
    const pending = JSON.parse(
      readFileSync(join(env.OPSC_STATE_DIR ?? "", "records-pending.json"), "utf8"),
    ) as {
      runs: string[];
    };
    expect(pending.runs).toEqual([s.id]);
    // The next start tries again and refuses again.
    expect(await pushPendingRecords(repo, settings, { env })).toMatchObject({
      status: "rewritten",
      runs: [s.id],
    });

    const wrong = await opsc(repo, env, "audit", "accept-remote", "0123456789ab");
    expect(wrong.code).toBe(3);
    expect(wrong.err).toContain(`origin's opsconductor/runs is at ${forged.slice(0, 12)}, not 0123456789ab`);
    const accepted = await opsc(repo, env, "audit", "accept-remote", forged.slice(0, 12));
    expect(accepted.err).toBe("");
    expect(accepted.code).toBe(0);
    expect(accepted.out).toContain(`accepted origin's opsconductor/runs at ${forged.slice(0, 12)}`);
    expect(accepted.out).toMatch(/push pushed/);
    // Built on the accepted tip: the dropped record comes back, and the new one lands.
    expect(() => git(srv.bareDir, "merge-base", "--is-ancestor", forged, BRANCH)).not.toThrow();
    const onOrigin = git(srv.bareDir, "ls-tree", "-r", "--name-only", BRANCH);
    for (const id of [...runs, s.id]) expect(onOrigin).toContain(`${id}/run.json`);
    expect(existsSync(join(env.OPSC_STATE_DIR ?? "", "records-pending.json"))).toBe(false);
    const verified = await opsc(repo, env, "audit", "verify", "--remote");
    expect(verified.out).toMatch(/^audit trail intact: 3 lines, 3 runs/);
  });

  it("refuses a descendant that rewrote the audit chain it knew (re-chained lines, no force needed)", async () => {
    const { srv, repo, env } = await setup("rechain");
    const dir = join(scratch, "rechain-forger");
    await gitNet(scratch, "clone", "-q", "--branch", BRANCH, srv.url, dir);
    const year = readdirSync(join(dir, "audit"))[0] ?? "";
    const month = readdirSync(join(dir, "audit", year))[0] ?? "";
    const file = join(dir, "audit", year, month);
    let head: { hash: string; seq: number } | null = null;
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    const rechained = lines.map((line, i) => {
      const edited = i === 0 ? line.replace('"result":"success"', '"result":"failure"') : line;
      const out = rechainAuditLine(edited, head, new Date("2026-11-22T05:00:00Z"));
      head = { hash: hashLine(out), seq: i + 1 };
      return out;
    });
    writeFileSync(file, `${rechained.join("\n")}\n`);
    git(dir, "-c", "user.name=mallory", "-c", "user.email=m@example.com", "commit", "-qam", "fix results");
    await gitNet(dir, "push", "-q", "origin", BRANCH);
    const r = await commitRecord({ repoDir: repo, settings, summary: summary("after"), logs: {}, env });
    expect(r.push.status).toBe("rewritten");
    expect(r.push.reason).toMatch(
      /the audit line seq 2 that [0-9a-f]{12} ended with is no longer in audit\//,
    );
    expect(git(srv.bareDir, "log", "--format=%s", "-1", BRANCH).trim()).toBe("fix results");
  });

  it("still follows a remote that only moved on (another runner's records)", async () => {
    const { srv, repo, env } = await setup("honest");
    const other = join(scratch, "honest-other");
    await gitNet(scratch, "clone", "-q", srv.url, other);
    const o = await commitRecord({
      repoDir: other,
      settings,
      summary: summary("other"),
      logs: {},
      env: { PATH: process.env.PATH, OPSC_STATE_DIR: join(scratch, "honest-other-state") },
    });
    expect(o.push.status).toBe("pushed");
    const r = await commitRecord({ repoDir: repo, settings, summary: summary("mine"), logs: {}, env });
    expect(r.push).toMatchObject({ status: "pushed", rebuilt: [r.runId] });
    expect((await opsc(repo, env, "audit", "verify", "--remote")).out).toMatch(
      /^audit trail intact: 4 lines/,
    );
  });
});

describe("opsc run when its record cannot reach origin", () => {
  it("exits 4 after a successful run whose record origin refused (rewritten), saying why on stderr", async () => {
    const { srv, repo, env } = await setup("cli-run");
    await forcePushRewrite(srv, "cli-run", true);
    execFileSync("mkdir", ["-p", join(repo, "targets"), join(repo, "jobs")]);
    writeFileSync(join(repo, "targets/local.yaml"), "targets:\n  here: { transport: local }\n");
    writeFileSync(join(repo, "jobs/hello.yaml"), "targets: { names: [here] }\nsteps:\n  - run: echo hello\n");
    git(repo, "add", "-A");
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "hello job");
    const r = await opsc(repo, env, "run", "hello");
    expect(r.out).toMatch(/push: rewritten/);
    expect(r.err).toContain("records not pushed [records.remote-rewritten]");
    // The job itself succeeded; the exit code says the record is not on origin yet (ADR 0002: 4).
    expect(r.code).toBe(4);
  }, 120_000);
});
