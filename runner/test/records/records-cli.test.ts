import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../../src/core/run-summary.js";
import { commitRecord } from "../../src/records/commit-record.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";

const MAIN = join(import.meta.dirname, "..", "..", "src", "cli", "main.ts");
const BRANCH = "opsconductor/runs";
const scratch = mkdtempSync(join(tmpdir(), "opsc-records-cli-"));
let srv: GitHttpServer;
let repo: string;
const ids: string[] = [];

/** The CLI as a user runs it (through tsx, so no build is needed). Async: the git server lives in this process. */
async function opsc(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", MAIN, ...args, "--repo", repo],
      {
        encoding: "utf8",
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
      },
    );
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

function summary(id: string, job: string, result: RunSummary["result"], finishedAt: string): RunSummary {
  return {
    id,
    job,
    result,
    startedAt: "2026-11-22T03:15:00.000Z",
    finishedAt,
    trigger: { kind: "schedule", actor: "schedule" },
    actor: "schedule",
    sourceCommit: "b".repeat(40),
    inputs: { package: "=cmd|' /C calc'!A0" },
    checkMode: false,
    targets: [
      {
        name: "web-1",
        phase: "main",
        outcome: "ok",
        ms: 1200,
        steps: [{ id: "install", outcome: "ok", ms: 1100, attempts: 1 }],
      },
      {
        name: "web-2",
        phase: "main",
        outcome: result === "success" ? "ok" : "failed",
        ms: 900,
        steps: [
          {
            id: "install",
            outcome: result === "success" ? "ok" : "failed",
            ms: 800,
            attempts: 2,
            exitCode: 1,
          },
        ],
      },
    ],
    counts: {
      ok: result === "success" ? 2 : 1,
      changed: 0,
      failed: result === "success" ? 0 : 1,
      skipped: 0,
      unreachable: 0,
      timed_out: 0,
      cancelled: 0,
    },
  };
}

beforeAll(async () => {
  srv = await startGitHttpServer({ root: mkdtempSync(join(scratch, "srv-")) });
  repo = join(scratch, "automation");
  execFileSync("git", ["init", "-q", "-b", "main", repo]);
  execFileSync("git", ["-C", repo, "remote", "add", "origin", srv.url]);
  writeFileSync(join(repo, "opsconductor.yaml"), "name: cli-test\n");
  const settings = { records: { branch: BRANCH, push: true } };
  const env = { PATH: process.env.PATH };
  for (const [id, job, result, at] of [
    ["20261122T031500Z-patch-web-aaaa", "patch-web", "failure", "2026-11-22T03:16:00.000Z"],
    ["20261123T031500Z-backup-bbbb", "backup", "success", "2026-11-23T03:16:00.000Z"],
  ] as const) {
    await commitRecord({
      repoDir: repo,
      settings,
      summary: summary(id, job, result, at),
      logs: { "web-1": `log of ${id}\n`, "web-2": "" },
      env,
    });
    ids.push(id);
  }
});
afterAll(async () => {
  await srv.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("opsc runs", () => {
  it("lists runs newest first, filters by job, limits", async () => {
    const all = await opsc("runs", "list");
    expect(all.code).toBe(0);
    const rows = all.out.trim().split("\n");
    expect(rows[0]).toMatch(/^RUN\s+JOB\s+RESULT\s+OK/);
    expect(rows[1]).toMatch(/^20261123T031500Z-backup-bbbb\s+backup\s+success\s+2\/2/);
    expect(rows[2]).toMatch(/^20261122T031500Z-patch-web-aaaa\s+patch-web\s+failure\s+1\/2/);
    const json = JSON.parse(
      (await opsc("runs", "list", "--job", "patch-web", "--format", "json")).out,
    ) as RunSummary[];
    expect(json.map((r) => r.id)).toEqual(["20261122T031500Z-patch-web-aaaa"]);
    const bad = await opsc("runs", "list", "--limit", "none");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--limit none: expected a whole number above 0");
  });

  it("shows a run by its suffix, and a target's log", async () => {
    const show = await opsc("runs", "show", "aaaa");
    expect(show.code).toBe(0);
    expect(show.out).toContain("run 20261122T031500Z-patch-web-aaaa");
    expect(show.out).toContain(`commit:    ${"b".repeat(40)}`);
    expect(show.out).toMatch(/web-2\s+failed\s+900 ms\s+install:failed/);
    const log = await opsc("runs", "show", "20261122T031500Z-patch-web-aaaa", "--log", "web-1");
    expect(log.out).toBe("log of 20261122T031500Z-patch-web-aaaa\n");
    const missing = await opsc("runs", "show", "zzzz");
    expect(missing.code).toBe(3);
    expect(missing.err).toContain('no recorded run "zzzz"');
    expect(missing.err).toContain("opsc runs list");
    expect(missing.err).not.toMatch(/\n\s+at /);
  });
});

describe("opsc audit", () => {
  it("exports JSON Lines as committed, and CSV since a date", async () => {
    const jsonl = await opsc("audit", "export");
    const lines = jsonl.out.trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { run: string }).run)).toEqual(ids);
    const csv = await opsc("audit", "export", "--format", "csv", "--since", "2026-11-23");
    const rows = csv.out.trim().split("\r\n");
    expect(rows[0]).toMatch(/^seq,at,run,job,result,actor,trigger,sourceCommit/);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toContain(",20261123T031500Z-backup-bbbb,backup,success,schedule,schedule,");
    // The inputs column is JSON, quoted as one CSV cell.
    expect(rows[1]).toContain(`"{""package"":""=cmd|' /C calc'!A0""}"`);
    const bad = await opsc("audit", "export", "--since", "last tuesday");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--since last tuesday: not a date");
  });

  it("verifies the local branch and origin's, and exits 1 at the first broken line", async () => {
    const ok = await opsc("audit", "verify");
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^audit trail intact: 2 lines, 2 runs/);
    const remote = await opsc("audit", "verify", "--remote");
    expect(remote.code).toBe(0);
    expect(remote.out).toContain("refs/remotes/origin/opsconductor/runs");

    // Someone rewrites the first line on the records branch (a normal commit, no force needed locally).
    const wt = join(scratch, "tamper");
    execFileSync("git", ["-C", repo, "worktree", "add", "-q", wt, BRANCH]);
    const file = join(wt, "audit", "2026", "11.jsonl");
    writeFileSync(file, readFileSync(file, "utf8").replace('"result":"failure"', '"result":"success"'));
    execFileSync("git", [
      "-C",
      wt,
      "-c",
      "user.name=m",
      "-c",
      "user.email=m@example.com",
      "commit",
      "-qam",
      "tidy",
    ]);
    const broken = await opsc("audit", "verify");
    expect(broken.code).toBe(1);
    expect(broken.out).toMatch(
      /^audit trail BROKEN at audit\/2026\/11\.jsonl:2: prev is [0-9a-f]{64} but the line before hashes to/,
    );
    // origin still holds the intact trail.
    expect((await opsc("audit", "verify", "--remote")).code).toBe(0);
  });
});
