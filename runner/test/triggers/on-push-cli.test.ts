import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_FILES, git, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { PROJECT_ROOT } from "../helpers/opsc-cli.js";

const repo = new TestRepo();
const home = mkdtempSync(join(tmpdir(), "opsc-home-"));
let c1: string;
let c2: string;

beforeAll(() => {
  c1 = repo.commit({
    ...BASE_FILES,
    "jobs/hello.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["steps/**"] }`, "echo hello"),
    "jobs/other.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["targets/**"] }`),
  });
  c2 = repo.commit({ "steps/a.yaml": "run: echo a\n" });
  // The working tree moves on: on-push must read the jobs at --after, not here.
  repo.commit({ "jobs/hello.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["nothing/**"] }`) });
});
afterAll(() => {
  repo.remove();
  rmSync(home, { recursive: true, force: true });
});

function onPush(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    [join(PROJECT_ROOT, "runner/bin/opsc.js"), "on-push", "--repo", repo.dir, ...args],
    {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home },
    },
  );
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe("opsc on-push", () => {
  it("lists changed paths and the jobs they select, read at the pushed commit", () => {
    const r = onPush("--before", c1, "--after", c2, "--ref", "refs/heads/main", "--list");
    expect(r.status).toBe(0);
    expect(r.out).toContain("steps/a.yaml");
    expect(r.out).toMatch(/jobs: hello\n/);
  });

  it("runs the selected job at the pushed commit and records it", () => {
    const r = onPush("--before", c1, "--after", c2, "--ref", "refs/heads/main", "--no-push");
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/hello: success \(run \d{8}T\d{6}Z-hello-[0-9a-f]+\)/);
    const files = git(repo.dir, "ls-tree", "-r", "--name-only", "opsconductor/runs");
    const runJson = files.split("\n").find((f) => f.endsWith("/run.json"))!;
    const run = JSON.parse(git(repo.dir, "show", `opsconductor/runs:${runJson}`)) as Record<string, unknown>;
    expect(run).toMatchObject({
      job: "hello",
      result: "success",
      sourceCommit: c2,
      trigger: { kind: "push" },
    });
  });

  it("never runs anything for a push to the records branch", () => {
    const r = onPush("--before", c1, "--after", c2, "--ref", "refs/heads/opsconductor/runs");
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/records branch/);
  });

  it("reports an unknown commit as a user error, without a stack trace", () => {
    const r = onPush("--before", c1, "--after", "f".repeat(40), "--ref", "refs/heads/main");
    expect(r.status).toBe(3);
    expect(r.err).toMatch(/no branch, tag or commit "f{40}"/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("needs --before and --after", () => {
    const r = onPush("--after", c2);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/--before/);
  });
});
