/**
 * Target locks across doors: `opsc run` processes and an `opsc serve`
 * process against one `git http-backend` records remote, on the built-in
 * local target, which all of them share. The step prints the instants it
 * starts and ends its work; the records prove the runs never overlapped.
 */
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import runSchema from "../../../schema/run.schema.json" with { type: "json" };
import { lockRef } from "../../src/app/target-locks.js";
import { RemoteLeaseBackend } from "../../src/git/leases.js";
import { runDir, targetLogPath } from "../../src/records/record-paths.js";
import { BASE_FILES, TestRepo } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { holdTargetLock } from "../helpers/held-lock.js";
import { scratchFolders } from "../helpers/scratch.js";
import { OPSC, RECORDS, remoteRuns, startServe, type ServeProcess } from "../helpers/serve-process.js";

const TOKEN = "locks-api-token";
// ajv-formats ships CommonJS; its default export is the function under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;
const validateRun = addFormats(new Ajv2020({ strict: true, allErrors: true })).compile(runSchema);
const valid = (r: unknown) => expect(validateRun(r), JSON.stringify(validateRun.errors)).toBe(true);
const kills: Array<() => void> = [];
const { tmp } = scratchFolders();

// The work: print when it starts and ends, in nanoseconds since the epoch.
const WORK = 'echo "work-start $(date +%s%N)"; sleep 2; echo "work-end $(date +%s%N)"';
const job = (extra: string, run: string) =>
  `on: { manual: true }\n${extra}targets: { names: [here] }\nsteps:\n  - id: work\n    run: ${JSON.stringify(run)}\n`;

let remote: GitHttpServer;
const repo = new TestRepo();

beforeAll(async () => {
  remote = await startGitHttpServer();
  repo.commit({
    ...BASE_FILES,
    "jobs/work.yaml": job("locks: { wait: 3m }\n", WORK),
    "jobs/hold.yaml": job("", 'echo "holding"; sleep 60'),
    "jobs/skipper.yaml": job("locks: skip\n", "echo should-not-run"),
    "jobs/impatient.yaml": job("locks: { wait: 1s }\n", "echo should-not-run"),
  });
  git(repo.dir, "push", "-q", "--force", remote.bareDir, "main");
  git(remote.bareDir, "symbolic-ref", "HEAD", "refs/heads/main");
});

afterEach(() => {
  for (const k of kills.splice(0)) k();
});

afterAll(async () => {
  await remote.close();
  repo.remove();
});

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  }).trim();
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp("opsc-home-"), ...extra };
}

/** A clone whose origin is the HTTP remote (cloned from the bare directory: the server lives in this process). */
function clone(): string {
  const dir = join(tmp("opsc-clone-"), "repo");
  execFileSync("git", ["clone", "-q", remote.bareDir, dir]);
  git(dir, "remote", "set-url", "origin", remote.url);
  return dir;
}

interface Cli {
  pid: number;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** `opsc run JOB` as its own process group (its step's shell dies with it on SIGKILL). */
function opscRun(dir: string, jobId: string, extra: Record<string, string> = {}): Cli {
  const proc = spawn(process.execPath, [OPSC, "run", jobId, "--output"], {
    cwd: dir,
    env: env(extra),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (c: Buffer) => (stdout += String(c)));
  proc.stderr.on("data", (c: Buffer) => (stderr += String(c)));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    proc.on("exit", (code) => resolve({ code, stdout, stderr })),
  );
  kills.push(() => {
    if (proc.exitCode === null && proc.signalCode === null) process.kill(-proc.pid!, "SIGKILL");
  });
  return { pid: proc.pid!, done };
}

function lockHolder(): string | null {
  try {
    return git(remote.bareDir, "log", "-1", "--format=%B", lockRef("here"));
  } catch {
    return null;
  }
}

function targetLog(runId: string): string {
  return git(remote.bareDir, "show", `${RECORDS}:${runDir(runId)}/${targetLogPath("here")}`);
}

interface Rec {
  id: string;
  job: string;
  result: string;
  targets: Array<{
    name: string;
    outcome: string;
    reason?: string;
    lock?: {
      result: string;
      waitedMs: number;
      heldBy?: { run: string; replica: string };
      takenOverFrom?: { run: string; replica: string };
    };
  }>;
}

const runs = () => remoteRuns(remote) as unknown as Rec[];

describe("target locks", () => {
  it("two opsc run processes and an opsc serve run on one target never overlap", async () => {
    const s: ServeProcess = await startServe(
      ["--repo", remote.url, "--state", tmp("opsc-state-")],
      env({ OPSC_WEBHOOK_SECRET: "unused-secret", OPSC_API_TOKEN: TOKEN, OPSC_REPLICA: "serve-1" }),
    );
    kills.push(() => s.proc.kill("SIGKILL"));
    const before = new Set(runs().map((r) => r.id));
    const [a, b] = [clone(), clone()];
    const clis = [
      opscRun(a, "work", { OPSC_REPLICA: "cli-a" }),
      opscRun(b, "work", { OPSC_REPLICA: "cli-b" }),
    ];
    const api = await fetch(`${s.url}/api/jobs/work/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(api.status).toBe(202);
    const results = await Promise.all(clis.map((c) => c.done));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const mine = () => runs().filter((r) => r.job === "work" && !before.has(r.id));
    await eventually(() => mine().length === 3, 90_000);

    const intervals = mine().map((r) => {
      const log = targetLog(r.id);
      const start = /work-start (\d+)/.exec(log)?.[1];
      const end = /work-end (\d+)/.exec(log)?.[1];
      expect(start && end, log).toBeTruthy();
      return { id: r.id, start: BigInt(start!), end: BigInt(end!), rec: r };
    });
    intervals.sort((x, y) => (x.start < y.start ? -1 : 1));
    for (let i = 1; i < intervals.length; i++) {
      // Each run's work starts after the previous one's ended.
      expect(intervals[i]!.start > intervals[i - 1]!.end).toBe(true);
    }
    // Every run held the lock; the later ones say they waited, and for which of the others.
    const ids = new Set(intervals.map((i) => i.id));
    for (const { rec } of intervals) {
      valid(rec);
      expect(rec.result).toBe("success");
      expect(rec.targets[0]!.lock?.result).toBe("acquired");
    }
    const waited = intervals.slice(1).map((i) => i.rec.targets[0]!.lock!);
    for (const l of waited) {
      expect(l.waitedMs).toBeGreaterThan(0);
      expect(ids.has(l.heldBy!.run)).toBe(true);
    }
    // Nobody holds the target afterwards.
    expect(lockHolder()).toBeNull();
    s.proc.kill("SIGTERM");
    await s.exited;
  }, 150_000);

  it("a SIGKILLed holder's lock expires and the waiting run proceeds, recording the wait and the holder", async () => {
    const short = { OPSC_LEASE_SECONDS: "3" };
    const holder = opscRun(clone(), "hold", { ...short, OPSC_REPLICA: "doomed" });
    await eventually(() => /Holder: /.test(lockHolder() ?? ""), 30_000);
    const holderRun = /Holder: (\S+)/.exec(lockHolder()!)![1]!;
    const waiter = opscRun(clone(), "work", { ...short, OPSC_REPLICA: "patient" });
    // Let the waiter see the lock held before its holder dies.
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(-holder.pid, "SIGKILL");
    await holder.done;
    const r = await waiter.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`opsc: here is locked by run ${holderRun} on doomed; waiting up to 3m`);
    const rec = runs().find((x) => x.job === "work" && x.targets[0]?.lock?.takenOverFrom?.run === holderRun);
    expect(rec).toBeDefined();
    valid(rec);
    const lock = rec!.targets[0]!.lock!;
    expect(lock).toMatchObject({
      result: "acquired",
      heldBy: { run: holderRun, replica: "doomed" },
      takenOverFrom: { run: holderRun, replica: "doomed" },
    });
    expect(lock.waitedMs).toBeGreaterThan(1000);
    expect(rec!.result).toBe("success");
  }, 90_000);

  it("locks: skip records the skip and the holder; a wait past locks.wait fails naming the holder", async () => {
    const held = await holdTargetLock(
      new RemoteLeaseBackend(remote.url, undefined),
      "here",
      "20261126T120000Z-maintenance-abcd",
      "by-hand",
    );
    try {
      const dir = clone();
      const skipped = await opscRun(dir, "skipper").done;
      expect(skipped.code, skipped.stderr).toBe(0);
      expect(skipped.stdout).not.toContain("should-not-run");
      expect(skipped.stderr).toContain(
        "opsc: here is locked by run 20261126T120000Z-maintenance-abcd on by-hand: skipped (locks: skip)",
      );
      const rec = runs().find((r) => r.job === "skipper")!;
      valid(rec);
      expect(rec.targets[0]).toMatchObject({
        outcome: "skipped",
        lock: { result: "skipped", heldBy: { run: "20261126T120000Z-maintenance-abcd", replica: "by-hand" } },
      });
      expect(rec.targets[0]!.reason).toMatch(/locked by run 20261126T120000Z-maintenance-abcd on by-hand/);

      const impatient = await opscRun(dir, "impatient").done;
      expect(impatient.code).toBe(1);
      expect(impatient.stdout).not.toContain("should-not-run");
      const failed = runs().find((r) => r.job === "impatient")!;
      valid(failed);
      expect(failed.targets[0]).toMatchObject({
        outcome: "failed",
        lock: { result: "timed_out", heldBy: { run: "20261126T120000Z-maintenance-abcd" } },
      });
      expect(failed.targets[0]!.reason).toMatch(
        /waited .* for the lock on here, still held by run 20261126T120000Z-maintenance-abcd on by-hand/,
      );
      expect(failed.targets[0]!.lock!.waitedMs).toBeGreaterThanOrEqual(1000);
    } finally {
      await held.release();
    }
  }, 90_000);

  it("without pushing, runs from one clone lock in its own repository and still never overlap", async () => {
    const dir = clone();
    // The clone carries earlier tests' records (the run continues origin's records branch):
    // only the two runs started here count.
    const runJsons = (ref: string): string[] =>
      git(dir, "for-each-ref", ref) === ""
        ? []
        : git(dir, "ls-tree", "-r", "--name-only", ref)
            .split("\n")
            .filter((f) => f.endsWith("/run.json"));
    const before = new Set(runJsons(`refs/remotes/origin/${RECORDS}`));
    const local = (id: string) => {
      const proc = spawn(process.execPath, [OPSC, "run", "work", "--no-push"], {
        cwd: dir,
        env: env({ OPSC_REPLICA: id }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      proc.stderr.on("data", (c: Buffer) => (stderr += String(c)));
      return new Promise<{ code: number | null; stderr: string }>((resolve) =>
        proc.on("exit", (code) => resolve({ code, stderr })),
      );
    };
    const results = await Promise.all([local("one"), local("two")]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    // The lock was a ref of the clone, never of the remote.
    expect(lockHolder()).toBeNull();
    expect(git(dir, "for-each-ref", "refs/opsconductor/locks/")).toContain("refs/opsconductor/locks/here");
    const ids = runJsons(`refs/heads/${RECORDS}`).filter((f) => !before.has(f));
    const recs = ids.map((f) => JSON.parse(git(dir, "show", `${RECORDS}:${f}`)) as Rec);
    expect(recs).toHaveLength(2);
    const spans = recs
      .map((r) => {
        const log = git(dir, "show", `${RECORDS}:${runDir(r.id)}/${targetLogPath("here")}`);
        return [BigInt(/work-start (\d+)/.exec(log)![1]!), BigInt(/work-end (\d+)/.exec(log)![1]!)] as const;
      })
      .sort((x, y) => (x[0] < y[0] ? -1 : 1));
    expect(spans[1]![0] > spans[0]![1]).toBe(true);
    expect(recs.some((r) => (r.targets[0]!.lock?.waitedMs ?? 0) > 0)).toBe(true);
  }, 90_000);

  it("does not start a run whose records remote cannot be reached to lock its targets", async () => {
    const dir = clone();
    git(dir, "remote", "set-url", "origin", "http://127.0.0.1:9/nowhere.git");
    const r = await opscRun(dir, "work").done;
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/cannot lock the run's targets on http:\/\/127\.0\.0\.1:9\/nowhere\.git/);
    expect(r.stderr).not.toMatch(/work-start|\n\s+at /);
  }, 60_000);
});
