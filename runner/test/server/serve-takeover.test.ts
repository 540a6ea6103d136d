/**
 * Two `opsc serve` replicas on one `git http-backend` remote: the replica
 * that claimed a delivery is SIGKILLed before its run starts, and the other,
 * which had received the same delivery, takes the work over once the claim
 * expires. To hold the first replica's run back deterministically, the
 * test holds the job's target lock itself until that replica is dead.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { lockRef } from "../../src/app/target-locks.js";
import { Leases, RemoteLeaseBackend } from "../../src/git/leases.js";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { delivery, examplePayload, send } from "../helpers/github-delivery.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { remoteRuns, startServe, type ServeProcess } from "../helpers/serve-process.js";

const SECRET = "takeover-webhook-secret";
const procs: ServeProcess[] = [];
const dirs: string[] = [];
const tmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

let remote: GitHttpServer;
const repo = new TestRepo();
let c1: string;
let c2: string;

beforeAll(async () => {
  remote = await startGitHttpServer();
  c1 = repo.commit({
    ...BASE_FILES,
    "jobs/hello.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["steps/**"] }`, "echo hello"),
  });
  c2 = repo.commit({ "steps/note.yaml": "run: echo note\n" });
  git(repo.dir, "push", "-q", "--force", remote.bareDir, "main");
  git(remote.bareDir, "symbolic-ref", "HEAD", "refs/heads/main");
});

afterEach(() => {
  for (const p of procs.splice(0)) if (p.proc.exitCode === null) p.proc.kill("SIGKILL");
});

afterAll(async () => {
  await remote.close();
  repo.remove();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  }).trim();
}

async function replica(name: string): Promise<ServeProcess> {
  const s = await startServe(["--repo", remote.url, "--state", tmp(`opsc-state-${name}-`)], {
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

const logged = (s: ServeProcess, msg: string) =>
  s.lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === msg);

describe("claims between opsc serve replicas", () => {
  it("a replica killed after claiming a delivery, before its run, leaves it to the other: exactly one record, taken over", async () => {
    // The job's only target is held, so the first replica's run cannot start.
    const maintenance = new Leases(new RemoteLeaseBackend(remote.url, undefined), {
      replica: "maintenance",
      durationMs: 5 * 60_000,
    });
    const held = await maintenance.acquire(lockRef("here"), "20261126T120000Z-maintenance-abcd");
    if (held.kind !== "acquired") throw new Error("the test could not hold the target");

    const a = await replica("a");
    const b = await replica("b");
    const repository = { ...(examplePayload("push").repository as object), full_name: "octo/takeover" };
    const d = delivery(
      "push",
      examplePayload("push", { ref: "refs/heads/main", before: c1, after: c2, deleted: false, repository }),
    );
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
    await held.lease.release();

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
});
