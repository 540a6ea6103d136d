/**
 * readRef reads full ref names itself (loose file, else packed-refs): it must
 * answer what git answers, for loose, packed, shadowed, symbolic and missing refs.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readRef } from "../../src/git/ref-lock.js";
import { git as gitIn, TestRepo } from "../helpers/automation-repo.js";

const repo = new TestRepo("opsc-read-ref-");
afterAll(() => repo.remove());
const dir = repo.dir;
const git = (...args: string[]): string => gitIn(dir, ...args);
const gitdir = join(dir, ".git");

describe("readRef", () => {
  writeFileSync(join(dir, "a"), "1");
  git("add", "a");
  git("commit", "-qm", "one");
  const first = git("rev-parse", "HEAD");
  writeFileSync(join(dir, "a"), "2");
  git("commit", "-qam", "two");
  const second = git("rev-parse", "HEAD");

  it("reads a loose ref, a packed one, and the loose one over a stale packed line", async () => {
    git("update-ref", "refs/opsconductor/locks/web-1", first);
    git("update-ref", "refs/opsconductor/locks/web-2", second);
    git("pack-refs", "--all");
    git("update-ref", "refs/opsconductor/locks/web-1", second); // loose again, newer than packed
    git("update-ref", "refs/opsconductor/locks/web-3", first);
    for (const name of ["web-1", "web-2", "web-3"]) {
      const ref = `refs/opsconductor/locks/${name}`;
      expect(await readRef(gitdir, ref)).toBe(git("rev-parse", ref));
    }
    expect(await readRef(gitdir, "refs/opsconductor/locks/web-2")).toBe(second);
    expect(await readRef(gitdir, "refs/opsconductor/locks/web-1")).toBe(second);
  });

  it("answers null for a missing ref, also one whose name is a prefix of a packed one", async () => {
    expect(await readRef(gitdir, "refs/opsconductor/locks/web")).toBeNull();
    expect(await readRef(gitdir, "refs/opsconductor/locks/nope/deeper")).toBeNull();
    expect(await readRef(gitdir, "refs/heads/absent")).toBeNull();
  });

  it("follows a symbolic ref as git does", async () => {
    git("symbolic-ref", "refs/heads/alias", "refs/heads/main");
    expect(await readRef(gitdir, "refs/heads/alias")).toBe(second);
    expect(await readRef(gitdir, "HEAD")).toBe(second);
  });
});
