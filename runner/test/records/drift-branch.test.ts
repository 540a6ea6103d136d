/**
 * The drift branch against a real `git http-backend` remote: every report is a
 * new commit on top of the remote's tip, whichever clone wrote the previous
 * one, so the branch is one line of history and never force-pushed; the
 * remote's token comes from the environment like the records'.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { commitDriftReport } from "../../src/records/drift-branch.js";
import { git, TestRepo } from "../helpers/automation-repo.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";

const servers: GitHttpServer[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function clone(url: string): TestRepo {
  const repo = new TestRepo("opsc-drift-branch-");
  dirs.push(repo.dir);
  repo.commit({ "opsconductor.yaml": "name: t\n" });
  git(repo.dir, "remote", "add", "origin", url);
  return repo;
}

const report = (repo: TestRepo, text: string, env: NodeJS.ProcessEnv = {}) =>
  commitDriftReport({
    gitdir: repo.gitdir,
    job: "site",
    files: [
      { path: "drift.md", content: `# ${text}\n` },
      { path: "drift.json", content: `{"status":"${text}"}\n` },
    ],
    message: `${text}: report`,
    push: true,
    env,
  });

describe("drift branch on a remote", () => {
  it("builds each report on the remote's tip, from any clone, as one line of history", async () => {
    const srv = await startGitHttpServer({ root: mkdtempSync(join(tmpdir(), "opsc-drift-srv-")) });
    servers.push(srv);
    dirs.push(join(srv.bareDir, ".."));
    const a = clone(srv.url);
    const b = clone(srv.url);

    const first = await report(a, "drift");
    expect(first).toMatchObject({
      branch: "opsconductor/drift/site",
      parent: null,
      push: { status: "pushed" },
    });
    // b never saw the branch: it builds on what the remote has.
    const second = await report(b, "drift");
    expect(second).toMatchObject({ parent: first.commit, push: { status: "pushed" } });
    // a's local branch is behind the remote now: the remote's tip wins.
    const third = await report(a, "clean");
    expect(third).toMatchObject({ parent: second.commit, push: { status: "pushed" } });

    const log = git(srv.bareDir, "log", "--format=%H %s", "opsconductor/drift/site").split("\n");
    expect(log).toEqual([
      `${third.commit} clean: report`,
      `${second.commit} drift: report`,
      `${first.commit} drift: report`,
    ]);
    expect(git(srv.bareDir, "ls-tree", "--name-only", "opsconductor/drift/site")).toBe(
      "drift.json\ndrift.md",
    );
    expect(git(srv.bareDir, "show", "opsconductor/drift/site:drift.md")).toBe("# clean");
  });

  it("pushes with the records token (OPSC_GIT_TOKEN) and is refused, kept locally, without it", async () => {
    const srv = await startGitHttpServer({
      token: "drift-push-token",
      root: mkdtempSync(join(tmpdir(), "opsc-drift-srv-")),
    });
    servers.push(srv);
    dirs.push(join(srv.bareDir, ".."));
    const repo = clone(srv.url);
    const refused = await report(repo, "drift");
    expect(refused.push).toEqual({
      status: "refused",
      reason: expect.stringMatching(/^HTTP 401 .*: set OPSC_GIT_TOKEN/) as unknown,
    });
    expect(git(repo.dir, "rev-parse", "opsconductor/drift/site")).toBe(refused.commit);

    const pushed = await report(repo, "drift", { OPSC_GIT_TOKEN: "drift-push-token" });
    expect(pushed).toMatchObject({ parent: refused.commit, push: { status: "pushed" } });
    expect(git(srv.bareDir, "rev-parse", "opsconductor/drift/site~1")).toBe(refused.commit);
  });
});

describe("drift branch without a remote", () => {
  it("stays local; jobs `db` and `db/backup` clash with a clear error, not a crash", async () => {
    const repo = new TestRepo("opsc-drift-local-");
    dirs.push(repo.dir);
    repo.commit({ "opsconductor.yaml": "name: t\n" });
    const write = (job: string) =>
      commitDriftReport({
        gitdir: repo.gitdir,
        job,
        files: [{ path: "drift.md", content: "# drift\n" }],
        message: "drift: report",
        push: true,
      });
    expect(await write("db")).toMatchObject({
      branch: "opsconductor/drift/db",
      push: { status: "no-remote" },
    });
    await expect(write("db/backup")).rejects.toMatchObject({
      code: "drift.branch-clash",
      kind: "user",
    });
  });
});
