import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../../src/core/run-summary.js";
import { commitRecord } from "../../src/records/commit-record.js";
import { recoverInterrupted } from "../../src/records/journal.js";
import { pushNewObjects } from "../../src/git/push-new-objects.js";
import { pushRecords } from "../../src/records/push-records.js";
import { openRecords, verifyRecords } from "../../src/records/records-branch.js";
import type { GitHttpServer } from "../helpers/git-http-server.js";
import {
  git,
  gitNet,
  RECORDS_BRANCH,
  recordsRemote,
  recordsSettings,
  runSummary,
} from "../helpers/records-remote.js";

const BRANCH = RECORDS_BRANCH;
const settings = recordsSettings;
const { scratch, server } = recordsRemote("opsc-push-");
// Only loopback; no token in the environment unless a test sets one.
const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };

function clone(url: string, name: string): string {
  const dir = join(scratch, name);
  execFileSync("git", ["init", "-q", "-b", "main", dir]);
  git(dir, "remote", "add", "origin", url);
  return dir;
}

let serial = 0;
const summary = (job: string): RunSummary => runSummary(job, ++serial, { minute: 15 });

/** An outside writer: native git pushes a commit to the records branch on the server. */
async function outsidePush(url: string, name: string): Promise<void> {
  const dir = join(scratch, name);
  if (!existsSync(dir)) await gitNet(scratch, "clone", "-q", "--branch", BRANCH, url, dir);
  await gitNet(dir, "pull", "-q", "--ff-only");
  writeFileSync(join(dir, `${name}.txt`), `${Date.now()}\n`);
  git(dir, "add", ".");
  git(dir, "-c", "user.name=outsider", "-c", "user.email=o@example.com", "commit", "-qm", "outside");
  await gitNet(dir, "push", "-q", "origin", BRANCH);
}

describe("pushing records over smart HTTP", () => {
  let srv: GitHttpServer;
  beforeAll(async () => {
    srv = await server();
  });

  it("pushes a record to origin", async () => {
    const repo = clone(srv.url, "first");
    const s = summary("deploy");
    const r = await commitRecord({ repoDir: repo, settings, summary: s, logs: { "web-1": "hello\n" }, env });
    expect(r.push).toMatchObject({ status: "pushed", attempts: 1 });
    expect(git(srv.bareDir, "ls-tree", "-r", "--name-only", BRANCH)).toContain(`${r.path}/run.json`);
    expect(git(srv.bareDir, "rev-parse", BRANCH).trim()).toBe(r.commit);
  });

  it("keeps the record local when the repository's records.push is false, whatever the caller asks", async () => {
    const repo = clone(srv.url, "policy");
    const local = { records: { branch: BRANCH, push: false } };
    const r = await commitRecord({
      repoDir: repo,
      settings: local,
      summary: summary("deploy"),
      logs: {},
      push: true,
      env,
    });
    expect(r.push.status).toBe("skipped");
    expect(git(srv.bareDir, "ls-tree", "-r", "--name-only", BRANCH)).not.toContain(r.path);
  });

  // Also the regression test for isomorphic-git 1.41.7-1.41.9, which threw NotFoundError instead of
  // PushRejectedError when the remote tip was unknown locally: that would end as status "failed" here.
  it("rebuilds on a remote that moved (non-fast-forward), re-chaining the audit line, never forcing", async () => {
    const behind = clone(srv.url, "behind");
    await outsidePush(srv.url, "outsider");
    const before = git(srv.bareDir, "rev-parse", BRANCH).trim();
    const s = summary("patch");
    const r = await commitRecord({ repoDir: behind, settings, summary: s, logs: {}, env });
    expect(r.push.status).toBe("pushed");
    expect(r.push.rebuilt).toEqual([s.id]);
    // Linear: the old tip is an ancestor of the new one; nothing was overwritten.
    expect(() => git(srv.bareDir, "merge-base", "--is-ancestor", before, BRANCH)).not.toThrow();
    expect(git(srv.bareDir, "rev-list", "--merges", "--count", BRANCH).trim()).toBe("0");
    expect(git(behind, "rev-parse", BRANCH).trim()).toBe(git(srv.bareDir, "rev-parse", BRANCH).trim());
    const src = await openRecords(behind, BRANCH);
    expect(src && (await verifyRecords(src))).toMatchObject({ ok: true, lines: 2 });
  });

  it("notices when its record already landed", async () => {
    const repo = clone(srv.url, "landed");
    await gitNet(repo, "fetch", "-q", "origin", `${BRANCH}:${BRANCH}`);
    const s = summary("landed");
    const r = await commitRecord({ repoDir: repo, settings, summary: s, logs: {}, push: false, env });
    // Someone else delivered our commit, then the remote moved on.
    await gitNet(repo, "push", "-q", "origin", BRANCH);
    await outsidePush(srv.url, "outsider");
    const outcome = await pushRecords({ gitdir: join(repo, ".git"), branch: BRANCH, env });
    expect(outcome.status).toBe("already-landed");
    expect(outcome.rebuilt).toEqual([]);
    expect(
      git(srv.bareDir, "log", "--format=%s", BRANCH)
        .split("\n")
        .filter((l) => l.includes(s.id)),
    ).toHaveLength(1);
    expect(git(repo, "rev-parse", BRANCH).trim()).toBe(git(srv.bareDir, "rev-parse", BRANCH).trim());
    expect(r.push.status).toBe("skipped");
  });
});

describe("pushing only what a record adds", () => {
  it("sends the new objects alone, and the server's repository stays whole", async () => {
    const srv = await server();
    const repo = clone(srv.url, "fast");
    const first = await commitRecord({ repoDir: repo, settings, summary: summary("first"), logs: {}, env });
    expect(first.push.status).toBe("pushed");
    const r = await commitRecord({
      repoDir: repo,
      settings,
      summary: summary("second"),
      logs: { "web-1": "x\n" },
      push: false,
      env,
    });
    const sent = await pushNewObjects({
      gitdir: join(repo, ".git"),
      url: srv.url,
      ref: `refs/heads/${BRANCH}`,
      oid: r.commit,
      cache: {},
    });
    // commit; trees: root, runs, 2026, 11, 22, the run, targets, audit, audit/2026; blobs: run.json, README.md, web-1.log, 11.jsonl
    expect(sent).toMatchObject({ kind: "pushed", objects: 14 });
    expect(git(srv.bareDir, "rev-parse", BRANCH).trim()).toBe(r.commit);
    git(srv.bareDir, "fsck", "--strict", "--no-dangling");

    // Behind the remote: not a fast-forward, so it reports a race instead of sending anything.
    const behind = clone(srv.url, "fast-behind");
    const b = await commitRecord({
      repoDir: behind,
      settings,
      summary: summary("behind"),
      logs: {},
      push: false,
      env,
    });
    const race = await pushNewObjects({
      gitdir: join(behind, ".git"),
      url: srv.url,
      ref: `refs/heads/${BRANCH}`,
      oid: b.commit,
      cache: {},
    });
    expect(race.kind).toBe("race");
    expect(git(srv.bareDir, "rev-parse", BRANCH).trim()).toBe(r.commit);

    // A hook's refusal comes back with its words on this path too.
    const hook = join(srv.bareDir, "hooks", "pre-receive");
    writeFileSync(hook, "#!/bin/sh\necho 'branch protected: records need review' >&2\nexit 1\n");
    chmodSync(hook, 0o755);
    const refusedRun = await commitRecord({
      repoDir: repo,
      settings,
      summary: summary("hooked"),
      logs: {},
      env: { ...env, OPSC_STATE_DIR: join(scratch, "fast-state") },
    });
    expect(refusedRun.push.status).toBe("refused");
    expect(refusedRun.push.reason).toMatch(
      /pre-receive hook declined.*branch protected: records need review/,
    );
  });
});

describe("a push the server refuses", () => {
  it("reports the hook's reason, keeps the record, and pushes it at the next start", async () => {
    const srv = await server();
    const hook = join(srv.bareDir, "hooks", "pre-receive");
    writeFileSync(hook, "#!/bin/sh\necho 'records are frozen until the audit ends' >&2\nexit 1\n");
    chmodSync(hook, 0o755);
    const repo = clone(srv.url, "refused");
    const stateDir = join(scratch, "refused-state");
    const e = { ...env, OPSC_STATE_DIR: stateDir };
    const s = summary("frozen");
    const r = await commitRecord({ repoDir: repo, settings, summary: s, logs: {}, env: e });
    expect(r.push.status).toBe("refused");
    expect(r.push.reason).toMatch(/pre-receive hook declined/);
    expect(r.push.reason).toMatch(/records are frozen until the audit ends/);
    expect(existsSync(join(stateDir, "records-pending.json"))).toBe(true);
    expect(git(repo, "ls-tree", "-r", "--name-only", BRANCH)).toContain(`${r.path}/run.json`);
    expect(() => git(srv.bareDir, "rev-parse", "--verify", "-q", BRANCH)).toThrow();

    rmSync(hook);
    const next = await recoverInterrupted(repo, { settings, env: e });
    expect(next.recovered).toEqual([]);
    expect(next.pending).toMatchObject({ status: "pushed", runs: [s.id] });
    expect(git(srv.bareDir, "ls-tree", "-r", "--name-only", BRANCH)).toContain(`${r.path}/run.json`);
    expect(existsSync(join(stateDir, "records-pending.json"))).toBe(false);
  });

  it("asks for a token when the server wants one, and uses OPSC_GIT_TOKEN through onAuth", async () => {
    const srv = await server({ token: "t0ken-for-tests" });
    const repo = clone(srv.url, "auth");
    const e = { ...env, OPSC_STATE_DIR: join(scratch, "auth-state") };
    const denied = await commitRecord({
      repoDir: repo,
      settings,
      summary: summary("auth"),
      logs: {},
      env: e,
    });
    expect(denied.push.status).toBe("refused");
    expect(denied.push.reason).toMatch(/HTTP 401.*OPSC_GIT_TOKEN/);
    const next = await recoverInterrupted(repo, {
      settings,
      env: { ...e, OPSC_GIT_TOKEN: "t0ken-for-tests" },
    });
    expect(next.pending?.status).toBe("pushed");
    // The token is never written into the repository's config.
    expect(git(repo, "config", "--list")).not.toContain("t0ken-for-tests");
  });

  it("says that non-HTTP remotes are not pushed", async () => {
    const repo = clone("git@example.invalid:team/automation.git", "ssh-remote");
    const r = await commitRecord({ repoDir: repo, settings, summary: summary("ssh"), logs: {}, env });
    expect(r.push.status).toBe("unsupported-remote");
    expect(r.push.reason).toMatch(/HTTP\(S\) only/);
  });
});
