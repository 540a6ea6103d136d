import { execFile, spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { openRecords, runIds, verifyRecords } from "../../src/records/records-branch.js";
import { assertNoCanary } from "../helpers/canary.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";

const BRANCH = "opsconductor/runs";
const CHILD = join(import.meta.dirname, "record-runs-child.ts");
const scratch = mkdtempSync(join(tmpdir(), "opsc-concurrent-"));
let srv: GitHttpServer | undefined;
afterAll(async () => {
  await srv?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const run = promisify(execFile);
async function git(dir: string, ...args: string[]): Promise<string> {
  return (await run("git", ["-C", dir, ...args], { encoding: "utf8" })).stdout;
}

function child(
  repo: string,
  count: number,
  label: string,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", CHILD, "runs", repo, String(count), label], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => resolve({ code, out, err }));
  });
}

/** Pushes `count` unrelated commits to the records branch with native git, retrying lost races. */
async function outsideWriter(url: string, count: number): Promise<void> {
  const dir = join(scratch, "outsider");
  execFileSync("git", ["init", "-q", "-b", "main", dir]);
  await git(dir, "remote", "add", "origin", url);
  for (let i = 0; i < count; i++) {
    for (let attempt = 0; ; attempt++) {
      try {
        await git(dir, "fetch", "-q", "origin");
        const remote = await git(dir, "rev-parse", "-q", "--verify", `origin/${BRANCH}`).catch(() => "");
        if (remote.trim()) await git(dir, "checkout", "-q", "-B", "w", remote.trim());
        else await git(dir, "checkout", "-q", "--orphan", `w${i}`);
        writeFileSync(join(dir, "OUTSIDE.md"), `outside write ${i}\n`);
        await git(dir, "add", "OUTSIDE.md");
        await git(
          dir,
          "-c",
          "user.name=outsider",
          "-c",
          "user.email=o@example.com",
          "commit",
          "-qm",
          `outside ${i}`,
        );
        await git(dir, "push", "-q", "origin", `HEAD:refs/heads/${BRANCH}`);
        break;
      } catch (e) {
        if (attempt > 50) throw e;
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("records from many writers at once", () => {
  it("4 processes x 5 runs plus an outside writer: 20 of 20 records, no duplicates, linear, chain verifies", async () => {
    srv = await startGitHttpServer({ root: mkdtempSync(join(scratch, "srv-")) });
    const url = srv.url;
    // Processes 0 and 1 share one clone (the records lock serialises them); 2 and 3 have their own.
    const clones = ["shared", "shared", "own-2", "own-3"].map((n) => join(scratch, n));
    for (const dir of new Set(clones)) {
      execFileSync("git", ["init", "-q", "-b", "main", dir]);
      execFileSync("git", ["-C", dir, "remote", "add", "origin", url]);
    }
    const [results] = await Promise.all([
      Promise.all(clones.map((dir, i) => child(dir, 5, `p${i}`))),
      outsideWriter(url, 5),
    ]);
    for (const r of results) expect(r.err, r.err).not.toMatch(/Error/);
    const lines = results
      .flatMap((r) => r.out.trim().split("\n"))
      .map((l) => JSON.parse(l) as { runId: string; push: string; attempts: number; rebuilt: number });
    expect(lines).toHaveLength(20);
    // The race path really ran: every clone but the first to push starts its branch on its own root.
    expect(lines.reduce((n, l) => n + l.rebuilt, 0)).toBeGreaterThan(0);
    // Every process saw its record on the server (pushed, or pushed by its clone-mate).
    for (const l of lines) expect(["pushed", "already-landed"]).toContain(l.push);

    const bare = srv.bareDir;
    const subjects = (await git(bare, "log", "--format=%s", BRANCH)).trim().split("\n");
    const runSubjects = subjects.filter((s) => s.startsWith("run "));
    expect(runSubjects).toHaveLength(20);
    expect(new Set(runSubjects.map((s) => s.split(":")[0])).size).toBe(20);
    expect(subjects.filter((s) => s.startsWith("outside "))).toHaveLength(5);
    expect((await git(bare, "rev-list", "--merges", "--count", BRANCH)).trim()).toBe("0");
    expect((await git(bare, "rev-list", "--max-parents=0", "--count", BRANCH)).trim()).toBe("1");

    // A fresh reader sees 20 run directories, 20 audit lines, and an intact chain.
    const reader = join(scratch, "reader");
    execFileSync("git", ["init", "-q", reader]);
    await git(reader, "fetch", "-q", url, `${BRANCH}:${BRANCH}`);
    const src = await openRecords(reader, BRANCH);
    expect(src).not.toBeNull();
    if (!src) return;
    expect(new Set(await runIds(src))).toEqual(new Set(lines.map((l) => l.runId)));
    const verification = await verifyRecords(src);
    expect(verification).toMatchObject({ ok: true, lines: 20 });
    for (const f of (await git(reader, "ls-tree", "-r", "--name-only", BRANCH)).trim().split("\n")) {
      assertNoCanary(await git(reader, "show", `${BRANCH}:${f}`), f);
    }
  }, 180_000);
});
