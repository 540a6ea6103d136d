/** Loading from a Git commit (no checkout) gives the same result as loading the working tree. */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRepoCommit } from "../../src/git/read-tree.js";
import { loadRepo } from "../../src/repo/load-repo.js";
import { readRepoDir } from "../../src/repo/read-dir.js";
import { isOpscError } from "../../src/core/errors.js";

const EXAMPLE = join(import.meta.dirname, "../../../examples/web-fleet");
let dir: string;
let firstCommit: string;

function git(...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], {
    cwd: dir,
    encoding: "utf8",
  }).trim();
}

function plain(result: ReturnType<typeof loadRepo>): unknown {
  return JSON.parse(
    JSON.stringify({ model: result.model, diagnostics: result.diagnostics }, (_k, v: unknown) =>
      v instanceof Map ? Object.fromEntries(v) : v instanceof Set ? [...v] : v,
    ),
  );
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opsc-read-commit-"));
  cpSync(EXAMPLE, dir, { recursive: true });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-qm", "example");
  firstCommit = git("rev-parse", "HEAD");
  // A second commit with problems, to compare diagnostics too; plus a symlink both readers must skip.
  writeFileSync(join(dir, "jobs/broken.yaml"), "steps:\n  - uses: nope\n  - run: echo ${{ inputs.x }}\n");
  writeFileSync(join(dir, "targets/dup.yaml"), "targets:\n  web-1: { transport: local }\n");
  writeFileSync(join(dir, "jobs/notes.txt"), "not a job\n");
  symlinkSync("/etc/passwd", join(dir, "jobs/passwd.yaml"));
  git("add", "-A");
  git("commit", "-qm", "broken");
  git("tag", "-a", "v1", "-m", "annotated", firstCommit);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readRepoCommit", () => {
  it("gives the same model and diagnostics as the working tree", async () => {
    const fromDir = loadRepo(await readRepoDir(dir));
    const fromGit = loadRepo(await readRepoCommit(join(dir, ".git"), "HEAD"));
    expect(fromGit.diagnostics.length).toBeGreaterThanOrEqual(4);
    expect(plain(fromGit)).toEqual(plain(fromDir));
  });

  it("reads an older commit, by annotated tag and by abbreviated id, and records the commit", async () => {
    const byTag = await readRepoCommit(join(dir, ".git"), "v1");
    expect(byTag.commit).toBe(firstCommit);
    const byId = await readRepoCommit(join(dir, ".git"), firstCommit.slice(0, 8));
    expect(byId.commit).toBe(firstCommit);
    expect([...byId.files.keys()]).not.toContain("jobs/broken.yaml");
    expect(loadRepo(byId).diagnostics).toEqual([]);
  });

  it("skips symbolic links, as the directory reader does", async () => {
    const files = await readRepoCommit(join(dir, ".git"), "main");
    expect(files.files.has("jobs/passwd.yaml")).toBe(false);
    expect((await readRepoDir(dir)).files.has("jobs/passwd.yaml")).toBe(false);
  });

  it("reads an automation repository kept in a subfolder of the Git repository", async () => {
    const outer = mkdtempSync(join(tmpdir(), "opsc-read-subdir-"));
    try {
      cpSync(EXAMPLE, join(outer, "ops/fleet"), { recursive: true });
      execFileSync("git", ["init", "-q", "-b", "main"], { cwd: outer });
      execFileSync("git", ["add", "-A"], { cwd: outer });
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "x"], {
        cwd: outer,
      });
      const files = await readRepoCommit(join(outer, ".git"), "HEAD", { root: "ops/fleet" });
      expect(plain(loadRepo(files))).toEqual(plain(loadRepo(await readRepoDir(join(outer, "ops/fleet")))));
      const err = await readRepoCommit(join(outer, ".git"), "HEAD", { root: "ops/none" }).catch(
        (e: unknown) => e,
      );
      expect(isOpscError(err) && err.code).toBe("git.no-such-folder");
    } finally {
      rmSync(outer, { recursive: true, force: true });
    }
  });

  it("an unknown ref is a user error that says what to check", async () => {
    const err = await readRepoCommit(join(dir, ".git"), "no-such-branch").catch((e: unknown) => e);
    expect(isOpscError(err) && err.code).toBe("git.unknown-ref");
    expect((err as Error).message).toContain("no-such-branch");
  });

  it("follows git's ancestry suffixes, as reviewers type them", async () => {
    const gitdir = join(dir, ".git");
    for (const ref of ["HEAD~1", "HEAD^", "main~", "v1~0", "HEAD^1"]) {
      expect((await readRepoCommit(gitdir, ref)).commit, ref).toBe(firstCommit);
    }
  });

  it("a full commit id that is not in the repository, or a parent past the first commit, is a user error", async () => {
    for (const [ref, words] of [
      ["0".repeat(39) + "1", "no branch, tag or commit"],
      ["HEAD~2", "goes past the first commit"],
      ["HEAD^2", "goes past the first commit"],
    ] as const) {
      const err = await readRepoCommit(join(dir, ".git"), ref).catch((e: unknown) => e);
      expect(isOpscError(err) && err.code, ref).toBe("git.unknown-ref");
      expect((err as Error).message).toContain(words);
    }
  });
});
