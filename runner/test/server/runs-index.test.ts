/**
 * The runs index over a records branch written by the project's record writer
 * (through git fast-import, like the bench): newest first, filters, pages,
 * kept in a file, and brought up to date by reading only what changed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRecordsBranch } from "../../bench/commit-back.js";
import { RunsIndex } from "../../src/records/runs-index.js";

const dir = mkdtempSync(join(tmpdir(), "opsc-runs-index-"));
const file = join(dir, "runs-index.json");
const BRANCH = "opsconductor/runs";

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("RunsIndex", () => {
  it("lists runs newest first, filters and pages them", async () => {
    const gitdir = join(dir, "ten.git");
    await generateRecordsBranch(gitdir, 30, 10);
    const index = new RunsIndex(gitdir, file, BRANCH);
    const all = await index.query({ limit: 100 });
    expect(all.total).toBe(10);
    expect(index.lastReads).toBe(10);
    const ids = all.runs.map((r) => r.id);
    expect(ids).toEqual([...ids].sort().reverse());
    expect(all.runs[0]).toMatchObject({
      job: "patch-web",
      result: "success",
      trigger: "schedule",
      targets: 8,
    });
    expect((await index.query({ job: "other" })).runs).toEqual([]);
    expect((await index.query({ result: "failure" })).runs).toEqual([]);
    expect((await index.query({ actor: "schedule", trigger: "schedule" })).runs).toHaveLength(10);
    const page = await index.query({ limit: 3, before: ids[2] });
    expect(page.runs.map((r) => r.id)).toEqual(ids.slice(3, 6));
  });

  it("reads only the new run.json when the branch gains a record, from the index kept on disk", async () => {
    // The same ten records (same content, same times: same commits), then one more.
    const gitdir = join(dir, "eleven.git");
    await generateRecordsBranch(gitdir, 33, 11);
    const index = new RunsIndex(gitdir, file, BRANCH);
    const { total, runs } = await index.query({ limit: 1 });
    expect(total).toBe(11);
    expect(index.lastReads).toBe(1);
    expect(runs[0]!.id).toMatch(/^20240101T200000Z-/);
    const again = new RunsIndex(gitdir, file, BRANCH);
    expect((await again.query({})).total).toBe(11);
    expect(again.lastReads).toBe(0);
  });
});
