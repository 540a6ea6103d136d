import { describe, expect, it } from "vitest";
import { branchOf } from "../../src/core/branch-of.js";
import { jobsForPush } from "../../src/triggers/match-push.js";
import { jobYaml, modelFrom } from "../helpers/automation-repo.js";

const model = modelFrom({
  "jobs/web.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["steps/apt/**", "jobs/web.yaml"] }`),
  "jobs/any-branch.yaml": jobYaml(`on:\n  push: { branches: ["**"] }`),
  "jobs/default-main.yaml": jobYaml(`on:\n  push: true`),
  "jobs/release.yaml": jobYaml(`on:\n  push: { branches: ["release/*", "!release/old-*"] }`),
  "jobs/not-docs.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["**", "!docs/**"] }`),
  "jobs/manual-only.yaml": jobYaml(`on:\n  manual: true`),
});
const records = "opsconductor/runs";
const ids = (ref: string, changed: string[]) =>
  jobsForPush(model, { ref, changed, recordsBranch: records }).map((j) => j.id);

describe("jobsForPush", () => {
  it("selects jobs whose branch and path globs both match", () => {
    expect(ids("refs/heads/main", ["steps/apt/install.yaml"])).toEqual([
      "any-branch",
      "default-main",
      "not-docs",
      "web",
    ]);
  });

  it("leaves out a job when no changed path matches its globs", () => {
    expect(ids("refs/heads/main", ["targets/web.yaml"])).toEqual(["any-branch", "default-main", "not-docs"]);
  });

  it("honours negated path globs: a docs-only change does not run not-docs", () => {
    expect(ids("refs/heads/main", ["docs/readme.md"])).toEqual(["any-branch", "default-main"]);
  });

  it("matches branch globs with exclusions, last pattern wins", () => {
    expect(ids("refs/heads/release/1.2", ["x"])).toEqual(["any-branch", "release"]);
    expect(ids("refs/heads/release/old-1", ["x"])).toEqual(["any-branch"]);
  });

  it("never triggers on the records branch, even for a job on every branch", () => {
    expect(ids(`refs/heads/${records}`, ["runs/2026/11/22/x/run.json"])).toEqual([]);
  });

  it("runs `push: true` jobs on main only", () => {
    expect(ids("refs/heads/feature", ["jobs/x.yaml"])).toEqual(["any-branch"]);
  });

  it("ignores tags and other refs", () => {
    expect(ids("refs/tags/v1", ["steps/apt/install.yaml"])).toEqual([]);
    expect(branchOf("refs/pull/1/head")).toBeUndefined();
    expect(branchOf("main")).toBe("main");
  });
});
