/**
 * A schedule tick claimed by a replica that then died is taken over by
 * another replica once the claim expires. Two runners in this process share
 * one repository (claims in its local refs); the dying replica is a fault
 * injection: it wins its claim and never renews it or marks it done.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { claimRef, LocalClaims, type Claims } from "../../src/git/claims.js";
import { Leases, LocalLeaseBackend } from "../../src/git/leases.js";
import { ManualClock } from "../../src/server/clock.js";
import { createLogger } from "../../src/server/server-logger.js";
import type { MissedTick } from "../../src/server/job-schedules.js";
import { startServer, type RunningServer } from "../../src/server/start-server.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { eventually, FakeExecutor } from "../helpers/fake-executor.js";

const repo = new TestRepo();
repo.commit({
  ...BASE_FILES,
  "jobs/backup.yaml": jobYaml(`on:\n  schedule: [{ cron: "*/5 * * * *", timezone: UTC }]`),
});
const dirs: string[] = [];
const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close(0);
  repo.remove();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Wins claims like a replica, then dies: no renewal, never done. */
function dyingReplica(gitdir: string): Claims {
  const leases = new Leases(new LocalLeaseBackend(gitdir), { replica: "a", durationMs: 3000 });
  return {
    claim: async (kind, id) => {
      const r = await leases.acquire(claimRef(kind, id), `${kind}/${id}`, { reacquireOwn: false });
      if (r.kind === "acquired") return { kind: "won", done: async () => {}, abandon: async () => {} };
      throw new Error(`the dying replica expected to win, got ${r.kind}`);
    },
  };
}

async function runner(
  claims: Claims,
  executor: FakeExecutor,
  clock: ManualClock,
  recordMissed?: (repoDir: string, tick: MissedTick) => Promise<void>,
): Promise<RunningServer> {
  const state = mkdtempSync(join(tmpdir(), "opsc-state-"));
  dirs.push(state);
  const redactor = new Redactor();
  const s = await startServer({
    repo: repo.dir,
    state,
    port: 0,
    webhookSecret: "unused-secret",
    executor: executor.run,
    claims,
    clock,
    ...(recordMissed ? { recordMissed } : {}),
    useNodeCron: false,
    push: false,
    redactor,
    logger: createLogger({
      redactor,
      pretty: false,
      destination: new Writable({ write: (_c, _e, cb) => cb() }),
    }),
  });
  servers.push(s);
  return s;
}

function claimMessage(ref: string): string {
  return execFileSync("git", ["-C", repo.dir, "log", "-1", "--format=%B", ref], { encoding: "utf8" });
}

describe("schedule ticks between replicas", () => {
  it("a tick claimed by a replica that died runs on another replica after the claim expires, saying so", async () => {
    const clock = new ManualClock("2026-01-01T00:01:00Z");
    const dead = new FakeExecutor();
    dead.hold = true; // its run never gets anywhere: the replica is gone
    const alive = new FakeExecutor();
    const a = await runner(dyingReplica(repo.gitdir), dead, clock);
    const b = await runner(new LocalClaims(repo.gitdir, "b", 60_000), alive, clock);

    clock.set("2026-01-01T00:05:00Z");
    await a.service.tick();
    await eventually(() => dead.requests.length === 1);
    // b fires the same tick while a's claim is fresh: it runs nothing yet.
    await b.service.tick();
    expect(alive.requests).toHaveLength(0);

    await eventually(() => alive.requests.length === 1, 15_000);
    expect(alive.requests[0]!.trigger).toMatchObject({
      kind: "schedule",
      detail: { tick: "2026-01-01T00:05:00.000Z", takenOverFrom: "a" },
    });
    const ref = claimRef("schedule", "backup-0-2026-01-01T00:05:00.000Z");
    // Once b's run is recorded its claim is done: nobody takes the tick again.
    await eventually(() => /State: done/.test(claimMessage(ref)), 15_000);
    expect(claimMessage(ref)).toMatch(/^Replica: b$/m);
    expect(claimMessage(ref)).toMatch(/^Taken-Over-From-Replica: a$/m);
    dead.release();
  }, 60_000);

  it("a missed tick claimed by a replica that died before recording it is recorded by another after the claim expires", async () => {
    const clock = new ManualClock("2026-01-01T00:21:00Z");
    let revive = (): void => undefined;
    // a wins the claim and never gets the missed tick into the audit trail.
    const stuck = new Promise<void>((resolve) => (revive = resolve));
    const recorded: MissedTick[] = [];
    const a = await runner(dyingReplica(repo.gitdir), new FakeExecutor(), clock, () => stuck);
    const b = await runner(
      new LocalClaims(repo.gitdir, "b", 60_000),
      new FakeExecutor(),
      clock,
      async (_dir, t) => {
        recorded.push(t);
      },
    );
    const ref = claimRef("missed", "backup-0-2026-01-01T00:25:00.000Z");
    try {
      // 00:25 passes while neither looks: both find it missed (catch-up none) at 00:28.
      clock.set("2026-01-01T00:28:00Z");
      void a.service.tick();
      await eventually(() => {
        try {
          return /^Replica: a$/m.test(claimMessage(ref));
        } catch {
          return false; // not claimed yet
        }
      });
      await b.service.tick();
      expect(recorded).toHaveLength(0);
      await eventually(() => recorded.length === 1, 15_000);
      expect(recorded[0]).toMatchObject({ job: "backup", at: "2026-01-01T00:25:00.000Z", catchUp: "none" });
      await eventually(() => /State: done/.test(claimMessage(ref)), 15_000);
      expect(claimMessage(ref)).toMatch(/^Replica: b$/m);
    } finally {
      revive();
    }
  }, 60_000);
});
