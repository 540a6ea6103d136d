/**
 * TargetLocks over many targets against a real `git http-backend` (and in a
 * local repository): the free locks of a run are taken in one push and freed
 * in one; runs with overlapping target sets never hold a target at once and
 * never wait for each other in a cycle.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { lockRef, TargetLocks, type LockWait } from "../../src/app/target-locks.js";
import type { Plan } from "../../src/core/plan-model.js";
import type { LockPolicy } from "../../src/core/repo-model.js";
import { Leases, RemoteLeaseBackend } from "../../src/git/leases.js";
import type { GitHttpServer } from "../helpers/git-http-server.js";
import { recordsRemote } from "../helpers/records-remote.js";

// Servers and scratch repositories live in one folder, removed after the file.
const remotes = recordsRemote("opsc-locks-batch-");
let remote: GitHttpServer;

beforeAll(async () => {
  remote = await remotes.server();
});

const pushes = () =>
  remote.log().filter((l) => l.startsWith("POST") && l.includes("git-receive-pack")).length;

/** A repository whose origin is the HTTP remote (the locks' arbiter), or none for local locks. */
function gitdir(withOrigin: boolean): string {
  const d = mkdtempSync(join(remotes.scratch, "repo-"));
  execFileSync("git", ["init", "-q", "--bare", d]);
  if (withOrigin) execFileSync("git", ["-C", d, "remote", "add", "origin", remote.url]);
  return d;
}

let prefix = 0;
/** Target names unique to one test, so tests never share locks. */
const names = (count: number, from = 0) => {
  const p = `p${++prefix}`;
  return (n: number) => `${p}-t${String(from + n).padStart(2, "0")}`;
};

/** Only what TargetLocks reads of a plan. */
const planOf = (targets: string[], locks: LockPolicy): Plan =>
  ({ phases: [{ targets }], locks }) as unknown as Plan;

function onServer(target: string): string | null {
  try {
    return execFileSync("git", ["-C", remote.bareDir, "log", "-1", "--format=%B", lockRef(target), "--"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return null;
  }
}

const env = (replica: string) => ({ OPSC_REPLICA: replica, OPSC_LEASE_SECONDS: "8" });

describe("target locks in batches", () => {
  it("takes the locks of 60 targets in one push and frees them in one push", async () => {
    const name = names(60);
    const targets = Array.from({ length: 60 }, (_, i) => name(i));
    const before = pushes();
    const locks = await TargetLocks.take({
      plan: planOf([...targets].reverse(), { policy: "wait", waitMs: 60_000 }),
      runId: "run-many",
      gitdir: gitdir(true),
      remote: true,
      env: env("one"),
    });
    expect(pushes() - before).toBe(1);
    expect(locks.decided.size).toBe(0);
    for (const t of targets) expect(onServer(t)).toMatch(/Holder: run-many\n/);
    await locks.release();
    expect(pushes() - before).toBe(2);
    for (const t of targets) expect(onServer(t)).toBeNull();
  });

  it("with locks: skip, takes the free targets in one push and skips the held ones naming the holder", async () => {
    const name = names(10);
    const targets = Array.from({ length: 10 }, (_, i) => name(i));
    const other = new Leases(new RemoteLeaseBackend(remote.url, undefined), { replica: "elsewhere" });
    const held = [targets[3]!, targets[7]!];
    const theirs = await Promise.all(held.map((t) => other.acquire(lockRef(t), "run-other")));
    try {
      const waits: LockWait[] = [];
      const before = pushes();
      const locks = await TargetLocks.take({
        plan: planOf(targets, { policy: "skip" }),
        runId: "run-skipper",
        gitdir: gitdir(true),
        remote: true,
        env: env("two"),
        onWait: (w) => waits.push(w),
      });
      expect(pushes() - before).toBe(1);
      expect([...locks.decided.keys()].sort()).toEqual(held);
      for (const t of held) {
        expect(locks.decided.get(t)!.outcome).toBe("skipped");
        expect(locks.decided.get(t)!.reason).toMatch(/locked by run run-other on elsewhere/);
        expect(onServer(t)).toMatch(/Holder: run-other\n/);
      }
      expect(waits.map((w) => w.target).sort()).toEqual(held);
      for (const t of targets.filter((x) => !held.includes(x)))
        expect(onServer(t)).toMatch(/Holder: run-skipper\n/);
      await locks.release();
      for (const t of targets.filter((x) => !held.includes(x))) expect(onServer(t)).toBeNull();
    } finally {
      for (const a of theirs) if (a.kind === "acquired") await a.lease.release();
    }
  });

  it("a run waiting for a held target holds no lock after it in name order, so two runs never wait in a cycle", async () => {
    const name = names(3);
    const [a, m, z] = [name(0), name(1), name(2)];
    const other = new Leases(new RemoteLeaseBackend(remote.url, undefined), { replica: "elsewhere" });
    const x = await other.acquire(lockRef(m), "run-x");
    expect(x.kind).toBe("acquired");
    const waiting = (target: string) => {
      let told!: () => void;
      const seen = new Promise<void>((resolve) => (told = resolve));
      return { seen, onWait: (w: LockWait) => w.target === target && told() };
    };
    const wait = { policy: "wait" as const, waitMs: 120_000 };
    // Run A wants a, m, z; m is held. Its batch took a and z; before waiting for m it gives z back.
    const aWaits = waiting(m);
    const runA = TargetLocks.take({
      plan: planOf([a, m, z], wait),
      runId: "run-a",
      gitdir: gitdir(true),
      remote: true,
      env: env("a"),
      onWait: aWaits.onWait,
    });
    await aWaits.seen;
    expect(onServer(a)).toMatch(/Holder: run-a\n/);
    expect(onServer(z)).toBeNull();
    // Run B wants m and z: it may take z in its batch, but gives it back too while m is held.
    const bWaits = waiting(m);
    const runB = TargetLocks.take({
      plan: planOf([z, m], wait),
      runId: "run-b",
      gitdir: gitdir(true),
      remote: true,
      env: env("b"),
      onWait: bWaits.onWait,
    });
    await bWaits.seen;
    expect(onServer(z)).toBeNull();
    // m frees: one run gets m and then z, the other waits for it and gets both after.
    if (x.kind === "acquired") await x.lease.release();
    const first = await Promise.race([runA.then(() => "a"), runB.then(() => "b")]);
    const firstLocks = await (first === "a" ? runA : runB);
    expect(firstLocks.decided.size).toBe(0);
    expect(onServer(m)).toMatch(new RegExp(`Holder: run-${first}\\n`));
    expect(onServer(z)).toMatch(new RegExp(`Holder: run-${first}\\n`));
    await firstLocks.release();
    const secondLocks = await (first === "a" ? runB : runA);
    expect(secondLocks.decided.size).toBe(0);
    const second = first === "a" ? "b" : "a";
    expect(onServer(m)).toMatch(new RegExp(`Holder: run-${second}\\n`));
    await secondLocks.release();
  }, 90_000);

  describe.each([
    ["on the remote", true],
    ["in a local repository", false],
  ])("three runs with overlapping target sets %s", (_name, onRemote) => {
    it("never hold a target at once, and all finish without timing out", async () => {
      const name = names(18);
      const t = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => name(from + i));
      const sets = [t(0, 12), t(6, 18), [...t(0, 6), ...t(12, 18)]];
      const dir = gitdir(onRemote);
      const spans: Array<{ run: number; targets: string[]; from: number; to: number }> = [];
      const runOnce = async (run: number, round: number) => {
        const locks = await TargetLocks.take({
          plan: planOf(sets[run]!, { policy: "wait", waitMs: 120_000 }),
          runId: `run-${run}-${round}`,
          gitdir: dir,
          remote: onRemote,
          env: env(`r${run}`),
        });
        expect(locks.decided.size).toBe(0);
        const from = performance.now();
        await new Promise((r) => setTimeout(r, 150));
        const to = performance.now();
        spans.push({ run, targets: sets[run]!, from, to });
        await locks.release();
      };
      await Promise.all(
        [0, 1, 2].map(async (run) => {
          for (let round = 0; round < 2; round++) await runOnce(run, round);
        }),
      );
      expect(spans).toHaveLength(6);
      for (const s1 of spans)
        for (const s2 of spans) {
          if (s1 === s2 || !s1.targets.some((x) => s2.targets.includes(x))) continue;
          expect(s1.to <= s2.from || s2.to <= s1.from, `runs ${s1.run} and ${s2.run} overlapped`).toBe(true);
        }
    }, 120_000);
  });
});
