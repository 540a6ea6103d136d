/**
 * `drift.schedule` ticks in JobSchedules: two replicas see the same tick and
 * claim it on a real Git smart-HTTP remote; exactly one submits a drift check
 * (trigger detail `drift: "true"`, which serve-wiring sends to detectDrift), and
 * its claim is not the claim of the job's run tick at the same time. A missed
 * drift tick is dropped, not recorded. The work queue and model cache are
 * stand-ins: what is tested is the claiming and what is submitted.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Trigger } from "../../src/core/plan-model.js";
import type { JobDef, RepoModel } from "../../src/core/repo-model.js";
import { claimRef, RemoteClaims } from "../../src/git/claims.js";
import { openMirror } from "../../src/git/repo-mirror.js";
import { ManualClock } from "../../src/server/clock.js";
import { JobSchedules } from "../../src/server/job-schedules.js";
import type { ModelCache } from "../../src/server/model-cache.js";
import type { ServerMetrics } from "../../src/server/server-metrics.js";
import type { StateStore } from "../../src/server/state-store.js";
import type { WorkItems } from "../../src/server/work-items.js";
import { BASE_FILES, jobYaml, modelFrom, TestRepo } from "../helpers/automation-repo.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";

let remote: GitHttpServer;
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "opsc-drift-ticks-"));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  remote = await startGitHttpServer({ root: tmp() });
  const repo = new TestRepo();
  dirs.push(repo.dir);
  repo.commit(BASE_FILES);
  execFileSync("git", ["-C", repo.dir, "push", "-q", "--force", remote.bareDir, "main"]);
});
afterAll(async () => {
  await remote?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const model: RepoModel = modelFrom({
  "jobs/site.yaml": jobYaml(
    'on:\n  schedule: [{ cron: "*/10 * * * *" }]\ndrift: { schedule: "*/10 * * * *" }',
  ),
});

async function replica(name: string, clock: ManualClock) {
  const mirror = await openMirror(remote.url, tmp());
  const submitted: Array<{ job: string; trigger: Trigger }> = [];
  const finished: unknown[] = [];
  const recorded: string[] = [];
  const values = new Map<string, unknown>();
  const schedules = new JobSchedules({
    store: {
      readValue: (k: string) => values.get(k),
      writeValue: (k: string, v: unknown) => void values.set(k, v),
      finish: (item: unknown) => void finished.push(item),
    } as unknown as StateStore,
    models: {
      defaultBranch: "main",
      headCommit: () => Promise.resolve("c".repeat(40)),
      at: () => Promise.resolve({ model, errors: [] }),
    } as unknown as ModelCache,
    work: {
      submit: (job: JobDef, _commit: string, _ref: string, _inputs: unknown, trigger: Trigger) =>
        void submitted.push({ job: job.id, trigger }),
      ended: () => Promise.resolve(),
    } as unknown as WorkItems,
    logger: pino({ level: "silent" }),
    metrics: { missedTicks: { inc: () => undefined } } as unknown as ServerMetrics,
    clock,
    claims: new RemoteClaims(mirror.gitdir, remote.url, name),
    recordMissed: (tick) => Promise.resolve(void recorded.push(tick.at)),
    stopping: () => false,
  });
  await schedules.refresh();
  return { schedules, submitted, finished, recorded };
}

describe("drift.schedule ticks across replicas", () => {
  it("one replica claims and submits each drift check; the run tick at the same time is claimed apart", async () => {
    const clock = new ManualClock("2026-01-01T00:00:30Z");
    const a = await replica("replica-a", clock);
    const b = await replica("replica-b", clock);
    clock.set("2026-01-01T00:10:00Z");
    await Promise.all([a.schedules.scheduler.reconcile(), b.schedules.scheduler.reconcile()]);

    const all = [...a.submitted, ...b.submitted];
    const drift = all.filter((s) => s.trigger.detail?.drift === "true");
    const runs = all.filter((s) => s.trigger.detail?.drift === undefined);
    expect(drift).toHaveLength(1);
    expect(runs).toHaveLength(1);
    expect(drift[0]).toMatchObject({
      job: "site",
      trigger: { kind: "schedule", actor: "schedule", detail: { tick: "2026-01-01T00:10:00.000Z" } },
    });
    const refs = execFileSync(
      "git",
      ["-C", remote.bareDir, "for-each-ref", "--format=%(refname)", "refs/opsconductor/claims/schedule/"],
      { encoding: "utf8" },
    );
    expect(refs.trim().split("\n").sort()).toEqual(
      [
        claimRef("schedule", "site-0-2026-01-01T00:10:00.000Z"),
        claimRef("schedule", "site-drift-2026-01-01T00:10:00.000Z"),
      ].sort(),
    );

    // 00:20 and 00:30 pass unseen: the run tick is recorded as missed, the drift tick only logged.
    clock.set("2026-01-01T00:32:00Z");
    await expect(a.schedules.scheduler.reconcile()).resolves.toBeUndefined();
    expect(a.finished.map((i) => (i as { reason: string }).reason)).toEqual([
      "missed tick 2026-01-01T00:20:00.000Z (catch-up: none)",
      "missed tick 2026-01-01T00:30:00.000Z (catch-up: none)",
    ]);
    expect(a.recorded).toEqual(["2026-01-01T00:20:00.000Z", "2026-01-01T00:30:00.000Z"]);
  }, 60_000);
});
