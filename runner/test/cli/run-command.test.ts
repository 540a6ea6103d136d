import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { runCommand } from "../../src/cli/commands/run.js";
import { collectPair } from "../../src/cli/input-flags.js";
import { EXIT } from "../../src/core/exit-codes.js";

// A copy of the project's own example (examples/minimal: one local target) in a
// fresh git repository, since a run commits its record to the records branch.
const EXAMPLE = new URL("../../../examples/minimal", import.meta.url).pathname;
let REPO = "";
beforeAll(() => {
  REPO = mkdtempSync(join(tmpdir(), "opsc-run-cmd-"));
  cpSync(EXAMPLE, REPO, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], {
      cwd: REPO,
      stdio: "ignore",
    });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-qm", "example");
});
afterAll(() => rmSync(REPO, { recursive: true, force: true }));

function capture(): { text: () => string } {
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  return { text: () => out };
}

afterEach(() => vi.restoreAllMocks());

describe("opsc run", () => {
  it("runs the example job on the local target and prints the summary", async () => {
    const out = capture();
    const code = await runCommand("hello", {
      repo: REPO,
      input: { who: "Ada" },
      output: true,
    });
    expect(code).toBe(EXIT.ok);
    expect(out.text()).toMatch(/local show \| the greet step said ".*Ada.*" on local/);
    expect(out.text()).toMatch(/success: 1 \w+ in/);
    expect(out.text()).toMatch(
      /record: opsconductor\/runs:runs\/\d{4}\/\d\d\/\d\d\/\S+-hello-[0-9a-f]{4} \((--no-push: not pushed|no remote)/,
    );
  });

  it("refuses an unknown job with the list of jobs", async () => {
    capture();
    await expect(runCommand("nope", { repo: REPO })).rejects.toThrow(/there is no job "nope"/);
  });

  it("rejects an --input without =", () => {
    expect(() => collectPair("who")).toThrow('expected NAME=VALUE, got "who"');
    expect(collectPair("a=b=c", { x: "1" })).toEqual({ x: "1", a: "b=c" });
  });

  it("says when the filters leave no target", async () => {
    capture();
    await expect(runCommand("hello", { repo: REPO, target: ["none-*"], push: false })).rejects.toThrow(
      /job "hello" selects no target/,
    );
  });
});
