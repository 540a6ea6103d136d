import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openMirror } from "../../src/git/repo-mirror.js";
import { BASE_FILES, TestRepo } from "../helpers/automation-repo.js";

const state = mkdtempSync(join(tmpdir(), "opsc-mirror-"));
const repo = new TestRepo();
const head = repo.commit(BASE_FILES);
afterAll(() => {
  rmSync(state, { recursive: true, force: true });
  repo.remove();
});

describe("openMirror", () => {
  it("refuses SSH remotes with a hint, since only HTTP(S) can be fetched", async () => {
    await expect(openMirror("git@github.com:acme/ops.git", state)).rejects.toThrow(/only http\(s\) remotes/);
    await expect(openMirror("ssh://git@github.com/acme/ops.git", state)).rejects.toThrow(
      /only http\(s\) remotes/,
    );
  });

  it("reads a local repository's branches and knows which commits it has", async () => {
    const m = await openMirror(repo.dir, state);
    expect(await m.defaultBranch()).toBe("main");
    expect(await m.branchHead("main")).toBe(head);
    expect(await m.hasCommit(head)).toBe(true);
    expect(await m.hasCommit("0".repeat(40))).toBe(false);
    expect(m.url).toBeUndefined();
  });

  it("says clearly when a local folder is not a Git repository", async () => {
    await expect(openMirror(state, state)).rejects.toThrow(/is not a Git repository/);
  });
});
