/** The pure parts of the review and of sharding, from data. */
import { describe, expect, it } from "vitest";
import type { RunSummary } from "../../src/core/run-summary.js";
import { shardMatrix } from "../../src/plan/shard-matrix.js";
import { mergeShards, siblingShards } from "../../src/records/merge-shards.js";
import { diffRepos } from "../../src/review/diff-repos.js";
import { lineDiff } from "../../src/review/render-diff.js";
import type { RepoModel } from "../../src/core/repo-model.js";
import { loadRepo } from "../../src/repo/load-repo.js";
import { BASE_FILES, jobYaml, modelFrom } from "../helpers/automation-repo.js";

/** A model even when references do not resolve (no credential files here): the diff reads what loaded. */
function looseModel(files: Record<string, string>): RepoModel {
  const enc = new TextEncoder();
  return loadRepo({
    files: new Map(Object.entries({ ...BASE_FILES, ...files }).map(([k, v]) => [k, enc.encode(v)])),
  }).model;
}

const at = new Date("2026-11-22T08:00:00Z");

describe("diffRepos", () => {
  it("reports a job added and a job removed with what they bring and take", () => {
    const base = modelFrom({ "jobs/old.yaml": jobYaml("on: { manual: true }") });
    const head = modelFrom({
      "jobs/new.yaml": jobYaml(`on:\n  push: { branches: [main] }\n  schedule: [{ cron: "0 3 * * *" }]`),
    });
    const jobs = new Map(diffRepos(base, head, { at }).jobs.map((j) => [j.id, j]));
    expect(jobs.get("old")).toMatchObject({
      change: "removed",
      triggers: { removed: ["manual"] },
      targets: { removed: ["here"] },
    });
    expect(jobs.get("new")).toMatchObject({
      change: "added",
      // Jobs can be run by hand unless they say `manual: false`.
      triggers: { added: ["manual", "push (branches: main)"] },
      schedules: [
        {
          change: "added",
          after: {
            cron: "0 3 * * *",
            next: ["2026-11-23T03:00:00.000Z", "2026-11-24T03:00:00.000Z", "2026-11-25T03:00:00.000Z"],
          },
        },
      ],
      steps: [{ phase: "main", id: "s", change: "added", fields: [{ path: "run", after: "echo hi" }] }],
    });
  });

  it("sees a trigger swapped, a credential dropped and a target's host key changed", () => {
    const targets = (key: string) =>
      `targets:\n  web: { host: 10.0.0.1, host_key: "${key}", credential: prod/ssh }\n`;
    const job = (extra: string) => `${extra}\ntargets: { names: [web] }\nsteps: [{ id: s, run: "true" }]\n`;
    const base = looseModel({
      "targets/web.yaml": targets(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICYiWAnY2RAnJAH2Xi5spiPRnIE2lGgJd6DAqaJnGV98",
      ),
      "jobs/j.yaml": job("on: { manual: true }\nsecrets: { TOKEN: prod/api.token }"),
    });
    const head = looseModel({
      "targets/web.yaml": targets(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINaPST4Vc7hmGSAn0ZOpE9zhazZi/b1meuOHZCp4T2ma",
      ),
      "jobs/j.yaml": job("on: { webhook: { types: [deploy] }, manual: false }"),
    });
    const [j] = diffRepos(base, head, { at }).jobs;
    expect(j?.change).toBe("changed");
    expect(j?.triggers).toEqual({ added: ["webhook (types: deploy)"], removed: ["manual"] });
    expect(j?.credentials).toEqual({ added: [], removed: ["prod/api.token"] });
    expect(j?.targets.changed).toEqual([{ name: "web", fields: ["hostKeys"] }]);
  });

  it("finds nothing between a repository and itself", () => {
    const m = modelFrom({ "jobs/a.yaml": jobYaml(`on: { schedule: [{ cron: "*/5 * * * *" }] }`) });
    expect(diffRepos(m, m, { at }).jobs.map((j) => j.change)).toEqual(["unchanged"]);
  });
});

describe("lineDiff", () => {
  it("keeps common lines and shows removals before additions", () => {
    expect(lineDiff("a\nb\nc\n", "a\nB\nc\n")).toEqual([" a", "-b", "+B", " c"]);
    expect(lineDiff("", "x")).toEqual(["+x"]);
  });
});

describe("shards", () => {
  it("shardMatrix lists K/N, never more shards than targets", () => {
    expect(shardMatrix(3, 30)).toEqual({ shard: ["1/3", "2/3", "3/3"] });
    expect(shardMatrix(5, 2)).toEqual({ shard: ["1/2", "2/2"] });
    expect(shardMatrix(4, 0)).toEqual({ shard: ["1/1"] });
  });

  const run = (
    id: string,
    index: number,
    result: RunSummary["result"],
    target: string,
    group = "g1",
  ): RunSummary => ({
    id,
    job: "j",
    result,
    startedAt: `2026-11-22T08:0${index}:00Z`,
    finishedAt: `2026-11-22T08:1${index}:00Z`,
    trigger: { kind: "manual", actor: "a" },
    actor: "a",
    inputs: {},
    checkMode: false,
    shard: { index, count: 3, group },
    targets: [
      { name: target, phase: "main", outcome: result === "success" ? "ok" : "failed", ms: 1, steps: [] },
    ],
    counts: {
      ok: result === "success" ? 1 : 0,
      changed: 0,
      failed: result === "success" ? 0 : 1,
      skipped: 0,
      unreachable: 0,
      timed_out: 0,
      cancelled: 0,
    },
  });

  it("merges the shards of one group: targets together, counts summed, the worst result, missing shards named", () => {
    const a = run("r1", 1, "success", "t2");
    const b = run("r2", 2, "failure", "t1");
    const other = run("r9", 3, "success", "t9", "g2");
    const m = mergeShards(siblingShards(a, [b, other, a]));
    expect(m.summary.targets.map((t) => t.name)).toEqual(["t1", "t2"]);
    expect(m.summary.result).toBe("failure");
    expect(m.summary.counts).toMatchObject({ ok: 1, failed: 1 });
    expect(m.summary.startedAt).toBe("2026-11-22T08:01:00Z");
    expect(m.summary.finishedAt).toBe("2026-11-22T08:12:00Z");
    expect(m.shards.map((s) => s.id)).toEqual(["r1", "r2"]);
    expect(m.missing).toEqual([3]);
  });
});
