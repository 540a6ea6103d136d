/**
 * Ctrl-C on `opsc run`: the running step is killed, the summary still printed,
 * exit status 130. Runs the CLI from source in a child process and sends SIGINT.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = new URL("../../../", import.meta.url).pathname;
let repo = "";

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), "opsc-sigint-"));
  cpSync(join(ROOT, "examples/minimal"), repo, { recursive: true });
  writeFileSync(
    join(repo, "jobs/nap.yaml"),
    "description: Sleep a long time\non: { manual: true }\ntargets: { names: [local] }\nsteps:\n  - id: nap\n    run: echo sleeping; sleep 60\n",
  );
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], {
      cwd: repo,
      stdio: "ignore",
    });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-qm", "example");
});
afterAll(() => rmSync(repo, { recursive: true, force: true }));

describe("opsc run and Ctrl-C", () => {
  it("kills the step, prints the summary and exits 130", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(ROOT, "runner/src/cli/main.ts"),
        "run",
        "nap",
        "--repo",
        repo,
        "--no-push",
        "--output",
      ],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: "1" },
      },
    );
    let out = "";
    let sent = false;
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      // Once: a second Ctrl-C means "quit at once".
      if (!sent && out.includes("nap | sleeping")) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const t0 = Date.now();
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(out).toContain("opsc: cancelling");
    expect(out).toMatch(/local +cancelled/);
    expect(out).toMatch(/cancelled: 1 cancelled in/);
    expect(code).toBe(130);
  });
});
