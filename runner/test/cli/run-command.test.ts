import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { runCommand } from "../../src/cli/commands/run.js";
import { collectPair } from "../../src/cli/input-flags.js";
import { EXIT } from "../../src/core/exit-codes.js";
import { opscFailure } from "../helpers/opsc-failure.js";

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

describe("opsc run from a working tree that differs from HEAD", () => {
  let dirty = "";
  const git = (...args: string[]): string =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], {
      cwd: dirty,
      encoding: "utf8",
    }).trim();
  beforeAll(() => {
    dirty = mkdtempSync(join(tmpdir(), "opsc-run-dirty-"));
    cpSync(EXAMPLE, dirty, { recursive: true });
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-qm", "example");
    // A changed step, a new targets file and a deleted one; notes.txt is not read, so it does not count.
    const greet = join(dirty, "steps/greet.yaml");
    writeFileSync(greet, readFileSync(greet, "utf8").replace('echo "hello,', 'echo "uncommitted hello,'));
    writeFileSync(join(dirty, "targets/extra.yaml"), "targets:\n  extra: { transport: local }\n");
    writeFileSync(join(dirty, "notes.txt"), "not an automation file\n");
  });
  afterAll(() => rmSync(dirty, { recursive: true, force: true }));

  it("refuses by default, naming the dirty files and what to do, and runs nothing", async () => {
    const out = capture();
    const e = await opscFailure(runCommand("hello", { repo: dirty, push: false }));
    expect(e.code).toBe("run.dirty-tree");
    expect(e.message).toContain("steps/greet.yaml");
    expect(e.message).toContain("targets/extra.yaml");
    expect(e.message).not.toContain("notes.txt");
    expect(e.message).toContain(git("rev-parse", "HEAD").slice(0, 12));
    expect(e.hint).toMatch(/commit/);
    expect(e.hint).toContain("--allow-dirty");
    expect(out.text()).not.toContain("uncommitted hello");
    expect(() => git("rev-parse", "--verify", "-q", "refs/heads/opsconductor/runs")).toThrow();
  });

  it("runs with --allow-dirty and records the base commit and the dirty paths in run.json and the audit line", async () => {
    const head = git("rev-parse", "HEAD");
    const out = capture();
    const code = await runCommand("hello", { repo: dirty, push: false, allowDirty: true, output: true });
    expect(code).toBe(EXIT.ok);
    expect(out.text()).toContain("uncommitted hello");
    const path = /record: opsconductor\/runs:(\S+)/.exec(out.text())![1]!;
    const run = JSON.parse(git("show", `opsconductor/runs:${path}/run.json`)) as Record<string, unknown>;
    const expected = { base: head, paths: ["steps/greet.yaml", "targets/extra.yaml"] };
    expect(run.dirtyTree).toEqual(expected);
    expect(run.sourceCommit).toBeUndefined();
    const readme = git("show", `opsconductor/runs:${path}/README.md`);
    expect(readme).toContain(`uncommitted changes, on \`${head}\``);
    expect(readme).toMatch(/\| Uncommitted \| `steps\/greet\.yaml` `targets\/extra\.yaml` \|/);
    const auditFile = git("ls-tree", "-r", "--name-only", "opsconductor/runs", "audit/").split("\n")[0]!;
    const line = JSON.parse(git("show", `opsconductor/runs:${auditFile}`).split("\n")[0]!) as Record<
      string,
      unknown
    >;
    expect(line.dirtyTree).toEqual(expected);
  });

  it("records a clean tree's commit as sourceCommit, with no dirtyTree", async () => {
    const out = capture();
    const code = await runCommand("hello", { repo: REPO, push: false });
    expect(code).toBe(EXIT.ok);
    const path = /record: opsconductor\/runs:(\S+)/.exec(out.text())![1]!;
    const show = (spec: string) => execFileSync("git", ["show", spec], { cwd: REPO, encoding: "utf8" });
    const run = JSON.parse(show(`opsconductor/runs:${path}/run.json`)) as Record<string, unknown>;
    expect(run.sourceCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(run.dirtyTree).toBeUndefined();
  });
});
