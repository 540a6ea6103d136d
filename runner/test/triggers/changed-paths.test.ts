import { afterAll, describe, expect, it, vi } from "vitest";
import { GitRepository } from "../../src/git/git-repository.js";
import { changedPaths, ZERO_SHA } from "../../src/triggers/changed-paths.js";
import { resolvePush } from "../../src/app/resolve-push.js";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";

const repo = new TestRepo();
afterAll(() => repo.remove());

const c1 = repo.commit({
  ...BASE_FILES,
  "jobs/web.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["steps/apt/**"] }`),
  "jobs/all.yaml": jobYaml(`on:\n  push: true`),
  "steps/apt/install.yaml": "run: apt-get install -y x\n",
  "docs/a.md": "a\n",
});
const c2 = repo.commit({
  "steps/apt/install.yaml": "run: apt-get install -y y\n",
  "docs/a.md": null,
  "docs/b/c.md": "c\n",
});
const c3 = repo.commit({
  "targets/local.yaml": BASE_FILES["targets/local.yaml"] + "  there: { transport: local }\n",
});

describe("changedPaths", () => {
  it("lists added, modified and deleted files, nested, sorted", async () => {
    expect(await changedPaths(repo.gitdir, c1, c2)).toEqual([
      "docs/a.md",
      "docs/b/c.md",
      "steps/apt/install.yaml",
    ]);
  });

  it("treats every file as changed when the branch is new (before is all zeros)", async () => {
    const all = await changedPaths(repo.gitdir, ZERO_SHA, c1);
    expect(all).toContain("jobs/web.yaml");
    expect(all).toHaveLength(6);
  });

  it("is empty between a commit and itself", async () => {
    expect(await changedPaths(repo.gitdir, c2, c2)).toEqual([]);
  });

  it("reports an unknown commit clearly", async () => {
    await expect(changedPaths(repo.gitdir, c1, "deadbeef".repeat(5))).rejects.toThrow(
      /no branch, tag or commit/,
    );
  });
});

describe("resolvePush", () => {
  it("selects jobs at the pushed commit from the paths that changed", async () => {
    const r = await resolvePush(repo.gitdir, { before: c1, after: c2, ref: "refs/heads/main" });
    expect(r.commit).toBe(c2);
    expect(r.jobs.map((j) => j.id)).toEqual(["all", "web"]);
    const r2 = await resolvePush(repo.gitdir, { before: c2, after: c3, ref: "refs/heads/main" });
    expect(r2.jobs.map((j) => j.id)).toEqual(["all"]);
  });

  it("uses the pushed commit's model when it is given one, without reading the commit again", async () => {
    const git = new GitRepository(repo.gitdir);
    const loaded = await resolvePush(git, { before: c1, after: c2, ref: "refs/heads/main" });
    const reads = vi.spyOn(git, "readFiles");
    const r = await resolvePush(git, { before: c1, after: c2, ref: "refs/heads/main" }, loaded);
    expect(reads).not.toHaveBeenCalled();
    expect(r.commit).toBe(c2);
    expect(r.changed).toEqual(["docs/a.md", "docs/b/c.md", "steps/apt/install.yaml"]);
    expect(r.jobs.map((j) => j.id)).toEqual(["all", "web"]);
  });

  it("reads job definitions at the pushed commit, not the working tree", async () => {
    const c4 = repo.commit({
      "jobs/web.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["targets/**"] }`),
    });
    const r = await resolvePush(repo.gitdir, { before: c2, after: c3, ref: "refs/heads/main" });
    expect(r.jobs.map((j) => j.id)).toEqual(["all"]);
    const r4 = await resolvePush(repo.gitdir, { before: c1, after: c4, ref: "refs/heads/main" });
    expect(r4.jobs.map((j) => j.id)).toEqual(["all", "web"]);
  });

  it("never triggers on the records branch", async () => {
    const r = await resolvePush(repo.gitdir, { before: c1, after: c2, ref: "refs/heads/opsconductor/runs" });
    expect(r.jobs).toEqual([]);
    expect(r.reason).toMatch(/records branch/);
  });

  it("selects nothing and says why when the pushed commit does not validate", async () => {
    const bad = repo.commit({ "jobs/broken.yaml": "steps: 3\n" });
    const r = await resolvePush(repo.gitdir, { before: c3, after: bad, ref: "refs/heads/main" });
    expect(r.jobs).toEqual([]);
    expect(r.errors.length).toBeGreaterThan(0);
    expect(r.reason).toMatch(/error/);
  });
});
