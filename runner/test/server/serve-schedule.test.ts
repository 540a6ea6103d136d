/**
 * `opsc serve` schedules, as a process, against a real Git smart-HTTP remote on
 * loopback, with the real engine. The process's wall clock is moved by
 * libfaketime (see helpers/faked-clock.ts), so node-cron, cron-parser and the
 * scheduler all see the time the test sets; production code has no clock hook
 * for this. Skips itself when libfaketime is not installed.
 */
import type { ChildProcess } from "node:child_process";
import http from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BASE_FILES, git, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { FakedClock, findLibfaketime } from "../helpers/faked-clock.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { remoteRuns, startServe, type ServeProcess } from "../helpers/serve-process.js";
import { scratchFolders } from "../helpers/scratch.js";

const SECRET = "schedule-webhook-secret";
const TOKEN = "schedule-api-token";
const LIBFAKETIME = findLibfaketime();

type Serve = ServeProcess;

type Json = Record<string, unknown>;
interface ScheduleDetail {
  tick?: string;
  missed?: string;
  catchUp?: string;
}

const procs: ChildProcess[] = [];
const { tmp, adopt } = scratchFolders();

async function serve(remote: GitHttpServer, clock: FakedClock, state = tmp("opsc-state-")): Promise<Serve> {
  const s = await startServe(["--repo", remote.url, "--state", state, "--grace", "1"], {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: tmp("opsc-home-"),
    OPSC_LOG_LEVEL: "info",
    OPSC_WEBHOOK_SECRET: SECRET,
    OPSC_API_TOKEN: TOKEN,
    ...clock.env(),
  });
  procs.push(s.proc);
  return s;
}

/**
 * Moves the child's clock, then wakes its event loop: libuv only reads the
 * (faked) monotonic clock when it wakes, so without a request a timer armed
 * for an hour would wait an hour of real time.
 */
async function moveClock(s: Serve, clock: FakedClock, at: string): Promise<void> {
  clock.set(at);
  expect((await get(s, "/healthz")).status).toBe(200);
}

/**
 * A GET on a connection of its own. fetch would reuse a kept-alive socket, and
 * after a jump the child's keep-alive timer has fired early and closed it.
 */
function get(s: Serve, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${s.url}${path}`,
      { agent: false, headers: { authorization: `Bearer ${TOKEN}` }, timeout: 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
  });
}

async function apiRuns(s: Serve): Promise<Json[]> {
  const res = await get(s, "/api/runs");
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as { runs: Json[] }).runs;
}

const detail = (r: Json): ScheduleDetail => (r.trigger as { detail?: ScheduleDetail }).detail ?? {};

/** A repository with these jobs, pushed to a fresh loopback remote. */
async function remoteWith(jobs: Record<string, string>): Promise<GitHttpServer> {
  const remote = await startGitHttpServer({ root: tmp("opsc-git-http-") });
  const repo = new TestRepo();
  adopt(repo.dir);
  repo.commit({ ...BASE_FILES, ...jobs });
  git(repo.dir, "push", "-q", "--force", remote.bareDir, "main");
  return remote;
}

const remotes: GitHttpServer[] = [];

afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill("SIGKILL");
});

afterAll(async () => {
  for (const r of remotes) await r.close();
});

const SKIP_REASON = "libfaketime is not installed (Debian: apt-get install libfaketime faketime)";
if (!LIBFAKETIME) console.warn(`serve-schedule.test.ts skipped: ${SKIP_REASON}`);
const title = `opsc serve schedules under a faked clock${LIBFAKETIME ? "" : ` (skipped: ${SKIP_REASON})`}`;

describe.skipIf(!LIBFAKETIME)(title, () => {
  let minute: GitHttpServer;
  let hourly: GitHttpServer;

  beforeAll(async () => {
    minute = await remoteWith({
      // Runs long enough that the next minute's tick finds it still running.
      "jobs/every-minute.yaml": jobYaml(
        `on:\n  schedule: [{ cron: "* * * * *" }]\nconcurrency: { group: minute, policy: skip }`,
        "echo tick $OPSC_RUN_ID; sleep 8",
      ),
    });
    hourly = await remoteWith({
      "jobs/hourly-latest.yaml": jobYaml(
        `on:\n  schedule: [{ cron: "0 * * * *", catch_up: latest }]`,
        "echo caught up",
      ),
      "jobs/hourly-none.yaml": jobYaml(
        `on:\n  schedule: [{ cron: "0 * * * *", catch_up: none }]`,
        "echo never",
      ),
    });
    remotes.push(minute, hourly);
  });

  it("fires a tick when the clock crosses it, pushes its record, and skips the overlapping next tick", async () => {
    // Half a minute before the tick: no tick between start and the first move, so none is owed early.
    const clock = new FakedClock(LIBFAKETIME!, tmp("opsc-clock-"), "2026-11-23 02:59:30");
    const s = await serve(minute, clock);
    expect(await apiRuns(s)).toEqual([]);

    // Two seconds before 03:00: node-cron's own timer, not the test, fires the tick.
    await moveClock(s, clock, "2026-11-23 02:59:58");
    let first: Json | undefined;
    await eventually(async () => {
      first = (await apiRuns(s)).find((r) => detail(r).tick === "2026-11-23T03:00:00.000Z");
      return first?.status === "running" && typeof first.runId === "string";
    }, 15_000);
    expect(first).toMatchObject({ job: "every-minute", trigger: { kind: "schedule", actor: "schedule" } });

    // The step sleeps for 8 s; the 03:01 tick comes while it runs, and policy skip drops it.
    await moveClock(s, clock, "2026-11-23 03:00:59");
    let second: Json | undefined;
    await eventually(async () => {
      second = (await apiRuns(s)).find((r) => detail(r).tick === "2026-11-23T03:01:00.000Z");
      return second !== undefined;
    }, 15_000);
    expect(second).toMatchObject({
      job: "every-minute",
      status: "skipped",
      reason: expect.stringMatching(/concurrency group "minute" is busy \(policy skip\)/) as unknown,
    });
    expect((await apiRuns(s)).find((r) => r.id === first!.id)?.status).toBe("running");

    // The first run's record reaches the remote, with its schedule trigger.
    await eventually(() => remoteRuns(minute).some((r) => r.id === first!.runId), 30_000);
    const records = remoteRuns(minute);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      job: "every-minute",
      result: "success",
      trigger: {
        kind: "schedule",
        actor: "schedule",
        detail: { cron: "* * * * *", timezone: "UTC", tick: "2026-11-23T03:00:00.000Z" },
      },
    });
    expect(detail(records[0]!).missed).toBeUndefined();
    // The record lands before the executor returns; the item is finished just after.
    await eventually(async () => (await apiRuns(s)).find((r) => r.id === first!.id)?.status === "finished");
    // Exactly the two ticks: one ran, one was skipped; nothing was missed.
    const mine = (await apiRuns(s)).filter((r) => r.job === "every-minute");
    expect(mine.map((r) => [detail(r).tick, r.status]).sort()).toEqual([
      ["2026-11-23T03:00:00.000Z", "finished"],
      ["2026-11-23T03:01:00.000Z", "skipped"],
    ]);
    s.proc.kill("SIGTERM");
    expect(await s.exited).toBe(0);
  });

  it("records ticks missed while the clock jumps hours ahead or the runner is down, and runs what catch_up says", async () => {
    const clock = new FakedClock(LIBFAKETIME!, tmp("opsc-clock-"), "2026-11-23 03:10:00");
    const state = tmp("opsc-state-");
    let s = await serve(hourly, clock, state);
    // 04:00, 05:00 and 06:00 pass in one jump; none is within the 60 s tolerance at 06:30.
    await moveClock(s, clock, "2026-11-23 06:30:00");
    await expectCatchUp(s, [
      "2026-11-23T04:00:00.000Z",
      "2026-11-23T05:00:00.000Z",
      "2026-11-23T06:00:00.000Z",
    ]);

    // Down through 07:00 and 08:00: the next start finds them from the persisted schedule state.
    s.proc.kill("SIGTERM");
    expect(await s.exited).toBe(0);
    clock.set("2026-11-23 08:30:00");
    s = await serve(hourly, clock, state);
    await expectCatchUp(s, ["2026-11-23T07:00:00.000Z", "2026-11-23T08:00:00.000Z"]);
    s.proc.kill("SIGTERM");
    expect(await s.exited).toBe(0);
  });

  /**
   * Both hourly jobs missed exactly `ticks`, each recorded on the remote as
   * missed; catch_up latest ran the newest of them, late, and catch_up none
   * ran nothing.
   */
  async function expectCatchUp(s: Serve, ticks: string[]): Promise<void> {
    const newest = ticks[ticks.length - 1]!;
    const inWindow = (r: Json) => ticks.includes(detail(r).tick ?? "");
    const isMissed = (r: Json) => detail(r).missed === "true";
    await eventually(() => {
      const records = remoteRuns(hourly).filter(inWindow);
      return (
        records.filter(isMissed).length === 2 * ticks.length &&
        records.some((r) => !isMissed(r) && r.job === "hourly-latest")
      );
    }, 30_000);
    await quiet(s);
    const records = remoteRuns(hourly).filter(inWindow);
    for (const job of ["hourly-latest", "hourly-none"]) {
      const missed = records.filter((r) => r.job === job && isMissed(r));
      expect(missed.map((r) => detail(r).tick).sort()).toEqual(ticks);
      for (const r of missed) {
        expect(r).toMatchObject({ result: "cancelled", targets: [] });
        expect(detail(r).catchUp).toBe(job === "hourly-latest" ? "latest" : "none");
      }
    }
    const ran = records.filter((r) => !isMissed(r));
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({
      job: "hourly-latest",
      result: "success",
      trigger: { kind: "schedule", detail: { tick: newest, catchUp: "latest" } },
    });
    const api = (await apiRuns(s)).filter(inWindow);
    expect(
      api.filter((r) => r.status === "skipped" && String(r.reason).startsWith("missed tick")),
    ).toHaveLength(2 * ticks.length);
    expect(api.filter((r) => r.status !== "skipped").map((r) => [r.job, detail(r).tick, r.status])).toEqual([
      ["hourly-latest", newest, "finished"],
    ]);
  }

  /**
   * Waits until nothing is queued or running and the list of work has not
   * changed for a second: a tick fired by mistake would show by then.
   */
  async function quiet(s: Serve): Promise<void> {
    const snapshot = async () => {
      const runs = await apiRuns(s);
      return runs.some((r) => r.status === "queued" || r.status === "running")
        ? undefined
        : JSON.stringify(runs);
    };
    let last: string | undefined;
    await eventually(async () => {
      const now = await snapshot();
      if (now === undefined || now !== last) {
        last = now;
        await new Promise((r) => setTimeout(r, 1000));
        return false;
      }
      return true;
    }, 20_000);
  }
});
