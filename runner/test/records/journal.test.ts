import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { recoverInterrupted } from "../../src/records/journal.js";
import { openRecords, readRun, readRunFile, verifyRecords } from "../../src/records/records-branch.js";
import { assertNoCanary } from "../helpers/canary.js";

const BRANCH = "opsconductor/runs";
const CHILD = join(import.meta.dirname, "record-runs-child.ts");
const scratch = mkdtempSync(join(tmpdir(), "opsc-journal-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const settings = { records: { branch: BRANCH, push: false } };

/** The step's shell runs in its own process group; once its runner is dead, nobody else stops it. */
function killStep(output: string): void {
  const pid = Number(/started (\d+)/.exec(output)?.[1]);
  if (pid > 0) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Starts a run in another process and SIGKILLs it while its second step runs. */
function killMidRun(repo: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", CHILD, "hang", repo], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...extraEnv },
    });
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error("the child run never reached its second step"));
    }, 30_000);
    p.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("READY")) {
        p.kill("SIGKILL");
        killStep(d.toString());
      }
    });
    p.on("exit", (_code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") resolve();
      else reject(new Error(`child exited without being killed (${signal ?? _code})`));
    });
  });
}

describe("a run cut off by SIGKILL", () => {
  it("is recorded as interrupted, with its last finished step, at the next start", async () => {
    const repo = join(scratch, "killed");
    execFileSync("git", ["init", "-q", "-b", "main", repo]);
    await killMidRun(repo);
    const journalDir = join(repo, ".git", "opsconductor", "journal");
    const journals = readdirSync(journalDir);
    expect(journals).toHaveLength(1);
    assertNoCanary(readFileSync(join(journalDir, journals[0] ?? ""), "utf8"), "the journal");
    // Nothing recorded yet: the process died before it could.
    expect(() => execFileSync("git", ["-C", repo, "rev-parse", "--verify", "-q", BRANCH])).toThrow();

    const result = await recoverInterrupted(repo, { settings });
    expect(result.recovered).toHaveLength(1);
    expect(result.recovered[0]?.result).toBe("interrupted");
    expect(readdirSync(journalDir)).toEqual([]);

    const src = await openRecords(repo, BRANCH);
    expect(src).not.toBeNull();
    if (!src) return;
    const id = result.recovered[0]?.runId ?? "";
    const run = await readRun(src, id);
    expect(run?.summary).toMatchObject({
      id,
      job: "hang",
      result: "interrupted",
      lastFinishedStep: { target: "web-1", step: "first" },
    });
    expect(run?.summary.targets[0]).toMatchObject({
      name: "web-1",
      outcome: "cancelled",
      reason: "interrupted while running",
    });
    expect(run?.summary.targets[0]?.steps.map((s) => [s.id, s.outcome])).toEqual([
      ["first", "changed"],
      ["second", "cancelled"],
    ]);
    const log = await readRunFile(src, id, "targets/web-1.log");
    expect(log).toContain("first ***");
    expect(log).toContain("started");
    expect(await readRunFile(src, id, "README.md")).toContain("interrupted");
    expect(await verifyRecords(src)).toMatchObject({ ok: true, lines: 1 });

    // A second start finds nothing left to do.
    expect((await recoverInterrupted(repo, { settings })).recovered).toEqual([]);
  });

  it("recovers a journal only into the repository it came from, when a state dir is shared", async () => {
    const env = { OPSC_STATE_DIR: join(scratch, "shared-state") };
    const [a, b] = ["repo-a", "repo-b"].map((n) => join(scratch, n));
    for (const dir of [a, b]) execFileSync("git", ["init", "-q", "-b", "main", dir ?? ""]);
    await killMidRun(a ?? "", env);
    expect((await recoverInterrupted(b ?? "", { settings, env })).recovered).toEqual([]);
    expect(() => execFileSync("git", ["-C", b ?? "", "rev-parse", "--verify", "-q", BRANCH])).toThrow();
    const fromA = await recoverInterrupted(a ?? "", { settings, env });
    expect(fromA.recovered.map((r) => r.result)).toEqual(["interrupted"]);
  });

  it("leaves the journal of a run whose process is still alive", async () => {
    const repo = join(scratch, "alive");
    execFileSync("git", ["init", "-q", "-b", "main", repo]);
    const p = spawn(process.execPath, ["--import", "tsx", CHILD, "hang", repo], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let ready = "";
    await new Promise<void>((resolve) =>
      p.stdout.on("data", (d: Buffer) => {
        ready += d.toString();
        if (ready.includes("READY")) resolve();
      }),
    );
    try {
      const result = await recoverInterrupted(repo, { settings });
      expect(result.recovered).toEqual([]);
      expect(result.running).toHaveLength(1);
    } finally {
      p.kill("SIGKILL");
      killStep(ready);
    }
  });
});
