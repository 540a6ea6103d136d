/**
 * `drift: { schedule }` in a job makes `opsc serve` (a process, its wall clock
 * moved by libfaketime as in serve-schedule.test.ts) check the job for drift at
 * the tick: a check-mode run is recorded, nothing on the target changes, and
 * the report lands on `opsconductor/drift/<job>` on the real Git remote.
 */
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BASE_FILES, git, TestRepo } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { FakedClock, findLibfaketime } from "../helpers/faked-clock.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { remoteRuns, startServe } from "../helpers/serve-process.js";
import { scratchFolders } from "../helpers/scratch.js";

const LIBFAKETIME = findLibfaketime();
const TOKEN = "drift-schedule-api-token";
const BRANCH = "opsconductor/drift/conf";

const procs: ChildProcess[] = [];
const { tmp, adopt } = scratchFolders();
let remote: GitHttpServer | undefined;

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  await remote?.close();
});

/** A GET on a connection of its own (see serve-schedule.test.ts: it also wakes the child after a clock jump). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { agent: false, headers: { authorization: `Bearer ${TOKEN}` }, timeout: 10_000 },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += String(c)));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("GET timed out")));
    req.on("error", reject);
  });
}

function remoteShow(bare: string, what: string): string | undefined {
  try {
    return execFileSync("git", ["-C", bare, "show", what], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return undefined;
  }
}

describe.skipIf(!LIBFAKETIME)("opsc serve runs drift.schedule", () => {
  it("checks the job at the tick, changes nothing, records a check run and pushes the drift report", async () => {
    const target = tmp("opsc-drift-target-");
    const dest = join(target, "app.conf");
    const repo = new TestRepo();
    adopt(repo.dir);
    repo.commit({
      ...BASE_FILES,
      "files/app.conf": "port=8080\n",
      "jobs/conf.yaml": [
        'drift: { schedule: "0 * * * *" }',
        "targets: { names: [here] }",
        "steps:",
        `  - { id: conf, copy: { src: files/app.conf, dest: "${dest}" } }`,
        "",
      ].join("\n"),
    });
    remote = await startGitHttpServer({ root: tmp("opsc-git-http-") });
    git(repo.dir, "push", "-q", "--force", remote.bareDir, "main");

    const clock = new FakedClock(LIBFAKETIME!, tmp("opsc-clock-"), "2026-11-23 02:59:30");
    const s = await startServe(["--repo", remote.url, "--state", tmp("opsc-state-"), "--grace", "1"], {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: tmp("opsc-home-"),
      OPSC_LOG_LEVEL: "info",
      OPSC_API_TOKEN: TOKEN,
      OPSC_WEBHOOK_SECRET: "drift-schedule-webhook-secret",
      ...clock.env(),
    });
    procs.push(s.proc);
    const registered = s.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((o) => o.msg === "schedules registered");
    expect(registered?.schedules).toEqual([
      expect.objectContaining({ job: "conf", cron: "0 * * * *", drift: true }),
    ]);
    // The dashboard's schedules list it as a drift check, next at 03:00.
    const listed = JSON.parse((await get(`${s.url}/api/schedules`)).body) as unknown;
    expect(listed).toMatchObject({
      schedules: [{ job: "conf", kind: "drift", cron: "0 * * * *", catchUp: "none" }],
    });
    expect((listed as { schedules: Array<{ next: string[] }> }).schedules[0]!.next[0]).toBe(
      "2026-11-23T03:00:00.000Z",
    );

    // Two seconds before 03:00: node-cron's own timer fires the drift tick.
    clock.set("2026-11-23 02:59:58");
    expect((await get(`${s.url}/healthz`)).status).toBe(200);
    const bare = remote.bareDir;
    await eventually(() => remoteShow(bare, `${BRANCH}:drift.json`) !== undefined, 30_000);

    const report = JSON.parse(remoteShow(bare, `${BRANCH}:drift.json`)!) as Record<string, unknown>;
    expect(report).toMatchObject({
      job: "conf",
      status: "drift",
      trigger: { kind: "schedule", actor: "schedule" },
      targets: [
        {
          name: "here",
          status: "drift",
          steps: [
            {
              id: "conf",
              files: [
                { path: dest, change: "created", diff: expect.stringContaining("+port=8080") as unknown },
              ],
            },
          ],
        },
      ],
    });
    // Checked, not run: the file is still not there.
    expect(existsSync(dest)).toBe(false);
    await eventually(() => remoteRuns(remote!).length === 1, 30_000);
    expect(remoteRuns(remote)[0]).toMatchObject({
      id: report.runId,
      job: "conf",
      checkMode: true,
      trigger: { kind: "schedule", detail: { drift: "true", tick: "2026-11-23T03:00:00.000Z" } },
    });
    s.proc.kill("SIGTERM");
    expect(await s.exited).toBe(0);
  }, 120_000);
});
