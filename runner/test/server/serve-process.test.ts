/**
 * `opsc serve` as a process, against a real Git smart-HTTP remote on loopback,
 * running jobs with the real engine (executeJob) on the local transport.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { delivery, examplePayload, send } from "../helpers/github-delivery.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { OPSC, remoteRuns, startServe, type ServeProcess } from "../helpers/serve-process.js";
import { scratchFolders } from "../helpers/scratch.js";

const SECRET = "e2e-webhook-secret";
const TOKEN = "e2e-api-token";

type Serve = ServeProcess;

const procs: ChildProcess[] = [];
const { tmp } = scratchFolders();

function env(extra: Record<string, string> = {}): Record<string, string> {
  const home = tmp("opsc-home-");
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, OPSC_LOG_LEVEL: "info", ...extra };
}

async function serve(args: string[], extra: Record<string, string> = {}): Promise<Serve> {
  const s = await startServe(args, env({ OPSC_WEBHOOK_SECRET: SECRET, OPSC_API_TOKEN: TOKEN, ...extra }));
  procs.push(s.proc);
  return s;
}

async function stop(s: Serve, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  s.proc.kill(signal);
  return s.exited;
}

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();
}

async function apiRuns(s: Serve): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(`${s.url}/api/runs`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return ((await res.json()) as { runs: Array<Record<string, unknown>> }).runs;
}

let remote: GitHttpServer;
const repo = new TestRepo();
let c1: string;
let c2: string;

beforeAll(async () => {
  remote = await startGitHttpServer();
  c1 = repo.commit({
    ...BASE_FILES,
    "jobs/hello.yaml": jobYaml(
      `on:\n  push: { branches: [main], paths: ["steps/**"] }`,
      "echo hello from $OPSC_RUN_ID",
    ),
    "jobs/slow.yaml": jobYaml(`on:\n  manual: true`, "echo started; sleep 30"),
    "jobs/pause.yaml": jobYaml(`on:\n  manual: true`, "sleep 2"),
  });
  c2 = repo.commit({ "steps/note.yaml": "run: echo note\n" });
  git(repo.dir, "push", "-q", "--force", remote.bareDir, "main");
  git(remote.bareDir, "symbolic-ref", "HEAD", "refs/heads/main");
});

afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill("SIGKILL");
});

afterAll(async () => {
  await remote.close();
  repo.remove();
});

// The runner runs a push once per remote, whatever delivery carries it: each test pushes "another repository".
let repository: Record<string, unknown>;
let tests = 0;
beforeEach(() => {
  const example = examplePayload("push").repository as Record<string, unknown>;
  repository = { ...example, full_name: `octo/automation-${++tests}` };
});

const push = (id?: string) =>
  delivery(
    "push",
    examplePayload("push", { ref: "refs/heads/main", before: c1, after: c2, deleted: false, repository }),
    id,
  );

describe("opsc serve as a process", () => {
  it("refuses to start without OPSC_WEBHOOK_SECRET", async () => {
    const proc = spawn(process.execPath, [OPSC, "serve", "--repo", remote.url], {
      env: env(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    proc.stderr.on("data", (c: Buffer) => (stderr += String(c)));
    const code = await new Promise((r) => proc.on("exit", r));
    expect(code).toBe(3);
    expect(stderr).toMatch(/OPSC_WEBHOOK_SECRET is not set/);
  });

  it("runs the job a signed push selects and pushes its record; bad signatures get 401 and run nothing", async () => {
    const s = await serve(["--repo", remote.url, "--state", tmp("opsc-state-")]);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await send(s.url, push(), null)).status).toBe(401);
    expect((await send(s.url, push(), "wrong-secret")).status).toBe(401);
    const before = remoteRuns(remote).length;
    const res = await send(s.url, push(), SECRET);
    expect(res.status).toBe(202);
    await eventually(() => remoteRuns(remote).length === before + 1, 30_000);
    const run = remoteRuns(remote).find((r) => r.sourceCommit === c2 && r.job === "hello");
    expect(run).toMatchObject({ result: "success", trigger: { kind: "push" } });
    // The record lands before the executor returns; the item is finished (and counted) just after.
    await eventually(async () =>
      (await apiRuns(s)).some((r) => r.job === "hello" && r.status === "finished"),
    );
    expect((await apiRuns(s)).filter((r) => r.job === "hello")).toHaveLength(1);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/opsc_runs_total\{job="hello",result="success"\} 1/);
    expect(metrics).toMatch(/opsc_deliveries_total\{source="github",outcome="bad-signature"\} 2/);
    // Every line of the run names the job and the run id.
    const runLines = s.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === "step finished");
    expect(runLines.length).toBeGreaterThan(0);
    for (const l of runLines) expect(l).toMatchObject({ job: "hello", runId: run!.id });
    expect(await stop(s)).toBe(0);
  });

  it("runs one delivery sent 10 times once, also across a restart", async () => {
    const state = tmp("opsc-state-");
    let s = await serve(["--repo", remote.url, "--state", state]);
    const d = push();
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(s.url, d, SECRET)));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    const mine = () =>
      remoteRuns(remote).filter(
        (r) => (r.trigger as { detail?: { delivery?: string } }).detail?.delivery === d.id,
      );
    await eventually(() => mine().length === 1, 30_000);
    await stop(s);
    s = await serve(["--repo", remote.url, "--state", state]);
    const again = await send(s.url, d, SECRET);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ duplicate: true });
    await new Promise((r) => setTimeout(r, 500));
    expect(mine()).toHaveLength(1);
    await stop(s);
  });

  it("two replicas given the same push under three delivery ids run it exactly once", async () => {
    const a = await serve(["--repo", remote.url, "--state", tmp("opsc-state-a-")], { OPSC_REPLICA: "a" });
    const b = await serve(["--repo", remote.url, "--state", tmp("opsc-state-b-")], { OPSC_REPLICA: "b" });
    const ds = [push(), push(), push()];
    await Promise.all(ds.flatMap((d) => [send(a.url, d, SECRET), send(b.url, d, SECRET)]));
    const ids = new Set(ds.map((d) => d.id));
    const runsOf = () =>
      remoteRuns(remote).filter((r) =>
        ids.has((r.trigger as { detail?: { delivery?: string } }).detail?.delivery ?? ""),
      );
    await eventually(() => runsOf().length >= 1, 60_000);
    await new Promise((r) => setTimeout(r, 1000)); // a duplicate would land by now
    expect(runsOf()).toHaveLength(1);
    const ran = (await apiRuns(a)).length + (await apiRuns(b)).length;
    expect(ran).toBe(1);
    await Promise.all([stop(a), stop(b)]);
  });

  it("records two runs that overlap in one server each with its own result", async () => {
    const s = await serve(["--repo", remote.url, "--state", tmp("opsc-state-")]);
    const start = () =>
      fetch(`${s.url}/api/jobs/pause/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: "{}",
      }).then(async (r) => ((await r.json()) as { id: string }).id);
    const first = await start();
    await eventually(async () => (await apiRuns(s)).some((r) => r.id === first && r.runId), 30_000);
    const second = await start();
    await eventually(
      async () => (await apiRuns(s)).filter((r) => r.status === "finished").length === 2,
      30_000,
    );
    const runIds = (await apiRuns(s)).filter((r) => r.id === first || r.id === second).map((r) => r.runId);
    await eventually(() => runIds.every((id) => remoteRuns(remote).some((r) => r.id === id)), 30_000);
    for (const id of runIds) expect(remoteRuns(remote).find((r) => r.id === id)?.result).toBe("success");
    await stop(s);
  });

  it("SIGTERM mid-run answers 503, cancels after the grace period and leaves an interrupted record", async () => {
    const s = await serve(["--repo", remote.url, "--state", tmp("opsc-state-"), "--grace", "1"]);
    const res = await fetch(`${s.url}/api/jobs/slow/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await eventually(
      async () => (await apiRuns(s)).some((r) => r.id === id && r.status === "running" && r.runId),
      30_000,
    );
    const runId = (await apiRuns(s)).find((r) => r.id === id)!.runId as string;
    await new Promise((r) => setTimeout(r, 300)); // the step is sleeping now
    s.proc.kill("SIGTERM");
    await eventually(async () => {
      const r = await fetch(`${s.url}/api/runs`, { headers: { authorization: `Bearer ${TOKEN}` } }).catch(
        () => null,
      );
      return r?.status === 503;
    }, 5_000);
    expect(await s.exited).toBe(0);
    const record = remoteRuns(remote).find((r) => r.id === runId);
    expect(record?.result).toBe("interrupted");
  });
});
