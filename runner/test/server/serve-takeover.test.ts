/**
 * Two `opsc serve` replicas on one `git http-backend` remote: the replica
 * that claimed a delivery is SIGKILLed before its run starts, and the other,
 * which had received the same delivery, takes the work over once the claim
 * expires. To hold the first replica's run back deterministically, the
 * test holds the job's target lock itself until that replica is dead.
 */
import { execFileSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RemoteLeaseBackend } from "../../src/git/leases.js";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { delivery, examplePayload, send } from "../helpers/github-delivery.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { holdTargetLock } from "../helpers/held-lock.js";
import { remoteRuns, startServe, type ServeProcess } from "../helpers/serve-process.js";
import { scratchFolders } from "../helpers/scratch.js";

const SECRET = "takeover-webhook-secret";
const procs: ServeProcess[] = [];
const { tmp } = scratchFolders();

let remote: GitHttpServer;
const repo = new TestRepo();
let c1: string;
let c2: string;
let c3: string;

beforeAll(async () => {
  remote = await startGitHttpServer();
  c1 = repo.commit({
    ...BASE_FILES,
    "jobs/hello.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["steps/**"] }`, "echo hello"),
  });
  c2 = repo.commit({ "steps/note.yaml": "run: echo note\n" });
  c3 = repo.commit({ "steps/other.yaml": "run: echo other\n" });
  git(repo.dir, "push", "-q", "--force", remote.bareDir, "main");
  git(remote.bareDir, "symbolic-ref", "HEAD", "refs/heads/main");
});

afterEach(() => {
  for (const p of procs.splice(0)) if (p.proc.exitCode === null) p.proc.kill("SIGKILL");
});

afterAll(async () => {
  await remote.close();
  repo.remove();
});

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  }).trim();
}

async function replica(
  name: string,
  state = tmp(`opsc-state-${name}-`),
  extra: string[] = [],
): Promise<ServeProcess> {
  const s = await startServe(["--repo", remote.url, "--state", state, ...extra], {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: tmp("opsc-home-"),
    OPSC_LOG_LEVEL: "info",
    OPSC_WEBHOOK_SECRET: SECRET,
    OPSC_REPLICA: name,
    OPSC_LEASE_SECONDS: "3",
  });
  procs.push(s);
  return s;
}

/** The replica named in each claim on the remote, by ref. */
function claimHolders(): Map<string, string> {
  const out = git(
    remote.bareDir,
    "for-each-ref",
    "--format=%(refname)%09%(contents)",
    "refs/opsconductor/claims/push/",
  );
  const holders = new Map<string, string>();
  let ref = "";
  for (const line of out.split("\n")) {
    const m = /^(refs\/\S+)\t/.exec(line);
    if (m) ref = m[1]!;
    const r = /^Replica: (\S+)/.exec(line);
    if (r && ref) holders.set(ref, r[1]!);
  }
  return holders;
}

const count = (s: ServeProcess, msg: string) =>
  s.lines.filter((l) => (JSON.parse(l) as { msg?: string }).msg === msg).length;
const logged = (s: ServeProcess, msg: string) => count(s, msg) > 0;

/**
 * Replica `name` (one run at a time) with two pushes journaled: the first one's run waits for the
 * target, held by the test, and the second is queued behind it.
 */
async function queueTwoPushes(name: string, fullName: string) {
  const held = await holdTargetLock(
    new RemoteLeaseBackend(remote.url, undefined),
    "here",
    `20261126T130000Z-${name}-abcd`,
  );
  const state = tmp(`opsc-state-${name}-`);
  const a = await replica(name, state, ["--limit", "1"]);
  const first = pushDelivery(fullName, c1, c2);
  const second = pushDelivery(fullName, c2, c3);
  expect((await send(a.url, first, SECRET)).status).toBe(202);
  await eventually(() => logged(a, "target locked by another run"), 30_000);
  expect((await send(a.url, second, SECRET)).status).toBe(202);
  await eventually(() => [...claimHolders().values()].filter((r) => r === name).length === 2, 30_000);
  await eventually(() => count(a, "work accepted") === 2, 30_000);
  return { a, held, state, first, second };
}

/** A push delivery from `before` to `after` on main, of a repository of that name. */
function pushDelivery(fullName: string, before: string, after: string): ReturnType<typeof delivery> {
  const repository = { ...(examplePayload("push").repository as object), full_name: fullName };
  return delivery(
    "push",
    examplePayload("push", { ref: "refs/heads/main", before, after, deleted: false, repository }),
  );
}

describe("claims between opsc serve replicas", () => {
  it("a replica killed after claiming a delivery, before its run, leaves it to the other: exactly one record, taken over", async () => {
    // The job's only target is held, so the first replica's run cannot start.
    const held = await holdTargetLock(
      new RemoteLeaseBackend(remote.url, undefined),
      "here",
      "20261126T120000Z-maintenance-abcd",
    );

    const a = await replica("a");
    const b = await replica("b");
    const d = pushDelivery("octo/takeover", c1, c2);
    expect((await send(a.url, d, SECRET)).status).toBe(202);
    await eventually(
      () => [...claimHolders().values()].includes("a") && logged(a, "target locked by another run"),
      30_000,
    );
    // The other replica received the same delivery: the claim is a's, so b keeps it and waits.
    expect((await send(b.url, d, SECRET)).status).toBe(202);
    await eventually(() => logged(b, "another replica claimed this delivery"), 30_000);

    a.proc.kill("SIGKILL");
    await a.exited;
    await held.release();

    const mine = () =>
      remoteRuns(remote).filter(
        (r) => (r.trigger as { detail?: { delivery?: string } }).detail?.delivery === d.id,
      );
    await eventually(() => mine().length === 1, 60_000);
    expect(mine()[0]).toMatchObject({
      job: "hello",
      result: "success",
      trigger: { kind: "push", detail: { delivery: d.id, takenOverFrom: "a" } },
    });
    expect(logged(b, "took over a delivery whose claim expired")).toBe(true);
    // The claim ends done, by b; no second record follows.
    await eventually(() => {
      const ref = [...claimHolders().keys()][0]!;
      return /State: done/.test(git(remote.bareDir, "log", "-1", "--format=%B", ref));
    }, 30_000);
    expect([...claimHolders().values()]).toEqual(["b"]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(mine()).toHaveLength(1);
    b.proc.kill("SIGTERM");
    await b.exited;
  }, 120_000);

  it("a replica restarted after the other took its queued work over does not run that work again", async () => {
    const queued = await queueTwoPushes("a2", "octo/requeue");
    const { held, state: stateA, first, second } = queued;
    let a = queued.a;
    const b = await replica("b2");
    for (const d of [first, second]) expect((await send(b.url, d, SECRET)).status).toBe(202);
    await eventually(
      () =>
        b.lines.filter(
          (l) => (JSON.parse(l) as { msg?: string }).msg === "another replica claimed this delivery",
        ).length === 2,
      30_000,
    );

    a.proc.kill("SIGKILL");
    await a.exited;
    await held.release();
    const runsOf = (d: { id: string }) =>
      remoteRuns(remote).filter(
        (r) => (r.trigger as { detail?: { delivery?: string } }).detail?.delivery === d.id,
      );
    // b takes both over once a's claims expire, and runs each once.
    await eventually(() => runsOf(first).length === 1 && runsOf(second).length === 1, 60_000);
    await eventually(
      () =>
        [...claimHolders().entries()].every(([ref]) =>
          /State: done/.test(git(remote.bareDir, "log", "-1", "--format=%B", ref)),
        ),
      30_000,
    );

    // a comes back with the second push still journaled as queued: it asks for the claim, finds the work done, runs nothing.
    a = await replica("a2", stateA, ["--limit", "1"]);
    await eventually(
      () => logged(a, "journaled work was run by another replica") || runsOf(second).length > 1,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect(runsOf(first)).toHaveLength(1);
    expect(runsOf(second)).toHaveLength(1);
    expect(logged(a, "journaled work was run by another replica")).toBe(true);
    expect(runsOf(second)[0]).toMatchObject({ trigger: { detail: { takenOverFrom: "a2" } } });
    for (const p of [a, b]) {
      p.proc.kill("SIGTERM");
      await p.exited;
    }
  }, 180_000);

  it("a replica restarted while its own claim still runs resumes its queued work once that claim expires", async () => {
    const queued = await queueTwoPushes("a3", "octo/restart");
    const { held, state, first, second } = queued;
    let a = queued.a;

    // Back at once: the dead process's claims have not expired yet.
    a.proc.kill("SIGKILL");
    await a.exited;
    a = await replica("a3", state, ["--limit", "1"]);
    await held.release();
    await eventually(() => logged(a, "another replica holds this work's claim"), 30_000);
    const runsOf = (d: { id: string }) =>
      remoteRuns(remote).filter(
        (r) => (r.trigger as { detail?: { delivery?: string } }).detail?.delivery === d.id,
      );
    await eventually(() => runsOf(second).length === 1, 60_000);
    expect(logged(a, "resuming journaled work under its claim")).toBe(true);
    expect(runsOf(second)[0]).toMatchObject({
      result: "success",
      trigger: { detail: { takenOverFrom: "a3" } },
    });
    // The first push's run was cut off while it waited: recorded nowhere as run, and not run again.
    await new Promise((r) => setTimeout(r, 2000));
    expect(runsOf(first)).toHaveLength(0);
    expect(runsOf(second)).toHaveLength(1);
    a.proc.kill("SIGTERM");
    await a.exited;
  }, 180_000);
});
