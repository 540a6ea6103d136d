/**
 * The model cache reads and loads a commit once, also when a push's
 * resolution and its hook secrets ask for it at the same time, and keeps the
 * files so a run at that commit reads nothing again.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it, vi } from "vitest";
import { openMirror } from "../../src/git/repo-mirror.js";
import { ModelCache } from "../../src/server/model-cache.js";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";

const repo = new TestRepo();
const state = mkdtempSync(join(tmpdir(), "opsc-model-cache-"));
afterAll(() => {
  repo.remove();
  rmSync(state, { recursive: true, force: true });
});

describe("ModelCache", () => {
  it("loads a commit asked for twice at once a single time, and keeps its files", async () => {
    const commit = repo.commit({ ...BASE_FILES, "jobs/hello.yaml": jobYaml("") });
    const mirror = await openMirror(repo.dir, state);
    const reads = vi.spyOn(mirror.repository, "readFiles");
    const models = new ModelCache({ mirror, logger: pino({ level: "silent" }) });
    const [a, b] = await Promise.all([models.at(commit), models.at(commit)]);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(b).toBe(a);
    expect(a.errors).toEqual([]);
    expect(a.model.jobs.has("hello")).toBe(true);
    expect(a.files.commit).toBe(commit);
    expect(models.known(commit)).toBe(a);
  });

  it("does not keep a failed load: the next request tries again", async () => {
    const mirror = await openMirror(repo.dir, state);
    const reads = vi.spyOn(mirror.repository, "readFiles");
    const models = new ModelCache({ mirror, logger: pino({ level: "silent" }) });
    const missing = "0123456789".repeat(4);
    await expect(models.at(missing)).rejects.toThrow();
    await expect(models.at(missing)).rejects.toThrow();
    expect(reads).toHaveBeenCalledTimes(2);
    expect(models.known(missing)).toBeUndefined();
  });
});
