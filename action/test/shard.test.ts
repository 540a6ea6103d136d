/**
 * Sharding over an Actions matrix (issue 7): `opsc plan --matrix 3` gives the
 * matrix, three runners (three clones, running at the same time) each run
 * `command: run` with `shard: K/3` under one workflow run id and push their
 * own record to a loopback remote; a fresh clone then sees one run in
 * `opsc runs show`, merged from the three records, every target exactly once.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { git, TestRepo } from "../../runner/test/helpers/automation-repo.js";
import { startGitHttpServer, type GitHttpServer } from "../../runner/test/helpers/git-http-server.js";
import { PROJECT_ROOT } from "../../runner/test/helpers/opsc-cli.js";
import { runAction } from "./run-action.js";

const TARGETS = 30;
const names = Array.from({ length: TARGETS }, (_, i) => `t${String(i).padStart(2, "0")}`);
const JOB = `targets: { match: { role: app } }
strategy: { parallel: 10 }
steps:
  - id: mark
    run: echo "ran on $NAME"
    env: { NAME: "\${{ target.name }}" }
`;

const scratch = mkdtempSync(join(tmpdir(), "opsc-shard-"));
let server: GitHttpServer;
let source: TestRepo;

function opsc(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, "runner/bin/opsc.js"), ...args], {
    cwd,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** A runner's checkout: a clone whose origin is the loopback HTTP remote. */
function checkout(name: string): string {
  const dir = join(scratch, name);
  git(scratch, "clone", "-q", server.bareDir, dir);
  git(dir, "remote", "set-url", "origin", server.url);
  return dir;
}

beforeAll(async () => {
  server = await startGitHttpServer({ token: "ghs_shard_token" });
  source = new TestRepo("opsc-shard-src-");
  source.commit({
    "opsconductor.yaml": "name: shards\nrecords: { branch: opsconductor/runs, push: true }\n",
    "targets/app.yaml": `targets:\n${names.map((n) => `  ${n}: { transport: local, labels: { role: app } }`).join("\n")}\n`,
    "jobs/fleet.yaml": JOB,
  });
  git(source.dir, "push", "-q", "--force", server.bareDir, "main");
});
afterAll(async () => {
  await server.close();
  source.remove();
  rmSync(scratch, { recursive: true, force: true });
});

describe("a job sharded over a matrix", () => {
  it("opsc plan --matrix gives the matrix, and refuses a bad count", () => {
    const r = opsc(source.dir, "plan", "fleet", "--matrix", "3");
    expect(r.err).toBe("");
    expect(JSON.parse(r.out)).toEqual({ shard: ["1/3", "2/3", "3/3"] });
    const bad = opsc(source.dir, "plan", "fleet", "--matrix", "0");
    expect(bad.status).toBe(2);
    expect(bad.err).toContain("--matrix 0: expected a whole number above 0");
  });

  it("opsc run refuses a shard outside 1..N", () => {
    const r = opsc(source.dir, "run", "fleet", "--shard", "4/3", "--no-push");
    expect(r.status).toBe(2);
    expect(r.err).toContain("--shard 4/3: expected K/N with 1 <= K <= N");
  });

  it("runs every target exactly once over 3 shards, and `opsc runs show` merges their records", async () => {
    const sha = git(source.dir, "rev-parse", "HEAD");
    const runners = ["1/3", "2/3", "3/3"].map((shard, i) => ({ shard, dir: checkout(`runner-${i + 1}`) }));
    // The three shards run at the same time, as a matrix does, and race to push.
    const results = await Promise.all(
      runners.map(({ shard, dir }) =>
        runAction({
          workspace: dir,
          inputs: { command: "run", job: "fleet", shard, "github-token": "ghs_shard_token" },
          event: { name: "workflow_dispatch", payload: { inputs: {} } },
          env: {
            GITHUB_SHA: sha,
            GITHUB_REF: "refs/heads/main",
            GITHUB_RUN_ID: "4242",
            GITHUB_RUN_ATTEMPT: "1",
          },
        }),
      ),
    );
    for (const r of results) {
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.outputs.result).toBe("success");
      expect(r.stdout).toMatch(/push: pushed/);
    }
    const ids = results.map((r) => r.outputs["run-id"] ?? "");

    // Every shard's record is on the remote; together they cover each target exactly once.
    const seen: string[] = [];
    for (const id of ids) {
      const path = git(server.bareDir, "ls-tree", "-r", "--name-only", "opsconductor/runs")
        .split("\n")
        .find((f) => f.endsWith(`${id}/run.json`));
      expect(path).toBeDefined();
      const run = JSON.parse(git(server.bareDir, "show", `opsconductor/runs:${path}`)) as {
        shard: { index: number; count: number; group: string };
        targets: Array<{ name: string; outcome: string }>;
        sourceCommit: string;
      };
      expect(run.shard).toMatchObject({ count: 3, group: "github-4242-1" });
      expect(run.sourceCommit).toBe(sha);
      expect(run.targets.every((t) => t.outcome === "changed")).toBe(true);
      seen.push(...run.targets.map((t) => t.name));
    }
    expect(seen.sort()).toEqual(names);

    // A reader with a fresh clone sees one run, whichever shard's id it asks for.
    const reader = checkout("reader");
    // Straight from the bare repository: a blocking git CLI call cannot talk to this process's own HTTP server.
    git(reader, "fetch", "-q", server.bareDir, "opsconductor/runs:opsconductor/runs");
    const shown = opsc(reader, "runs", "show", ids[1]!);
    expect(shown.err).toBe("");
    expect(shown.status).toBe(0);
    expect(shown.out).toContain("shards:    3 of 3 recorded");
    for (const id of ids) expect(shown.out).toContain(id);
    expect(shown.out).toMatch(/result: {4}success \(30\/30 targets ok\)/);
    for (const n of names) expect(shown.out.match(new RegExp(`^${n} `, "gm"))).toHaveLength(1);
  });
});
